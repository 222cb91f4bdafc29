/**
 * The chart, rendered and checked offline: `helm lint --strict` and `helm template` (helm from
 * an npm package, lib/helm.ts) with the default values and with ci/overrides-values.yaml; every
 * object validated against the Kubernetes schemas of kubernetes-models; what the chart promises
 * (components, probes, checksum, non-root, secrets only from existing Secrets, gated objects,
 * a configuration the services accept, dashboards on real metrics) checked on the objects.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { partnerSchema, validateConfig } from "@passerelle/config";
import { Deployment, type IDeployment } from "kubernetes-models/apps/v1/Deployment";
import { Job, type IJob } from "kubernetes-models/batch/v1/Job";
import { Secret, type ISecret } from "kubernetes-models/v1/Secret";
import {
  PrometheusRule,
  type IPrometheusRule,
} from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import {
  HorizontalPodAutoscaler,
  type IHorizontalPodAutoscaler,
} from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import {
  PodDisruptionBudget,
  type IPodDisruptionBudget,
} from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap, type IConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service, type IService } from "kubernetes-models/v1/Service";
import { ServiceAccount, type IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import {
  ServiceMonitor,
  type IServiceMonitor,
} from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { helm, helmPackageDir } from "./lib/helm.ts";
import { readAdminTokens } from "../../services/policy/src/environment.ts";
// The GitOps Job's command, run for real: the CLI against the policy service's admin app on Redis.
import { buildAdminApp } from "../../services/policy/src/adapters/admin-app.testing.ts";
import { run as runCli } from "../../packages/cli/src/cli.ts";
import { recordingContext } from "../../packages/cli/src/test-support.ts";
import { createScope, startRedis } from "../../packages/testkit/src/index.ts";

const chartDir = join(helmPackageDir, "passerelle");
const overridesFile = join(chartDir, "ci", "overrides-values.yaml");
const repoRoot = join(helmPackageDir, "..", "..");
const release = "gw";
const namespace = "passerelle";
const components = ["edge-listener", "dialback-authority", "policy", "sip-translator", "dns-registrar"];

interface RenderedObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

/** A validator per apiVersion/kind the chart may render; an unknown kind fails the test. */
const validators: Record<string, (o: RenderedObject) => void> = {
  "apps/v1/Deployment": (o) => new Deployment(o as unknown as IDeployment).validate(),
  "v1/Service": (o) => new Service(o as unknown as IService).validate(),
  "v1/ConfigMap": (o) => new ConfigMap(o as unknown as IConfigMap).validate(),
  "v1/ServiceAccount": (o) => new ServiceAccount(o as unknown as IServiceAccount).validate(),
  "autoscaling/v2/HorizontalPodAutoscaler": (o) =>
    new HorizontalPodAutoscaler(o as unknown as IHorizontalPodAutoscaler).validate(),
  "policy/v1/PodDisruptionBudget": (o) =>
    new PodDisruptionBudget(o as unknown as IPodDisruptionBudget).validate(),
  "monitoring.coreos.com/v1/ServiceMonitor": (o) =>
    new ServiceMonitor(o as unknown as IServiceMonitor).validate(),
  "monitoring.coreos.com/v1/PrometheusRule": (o) =>
    new PrometheusRule(o as unknown as IPrometheusRule).validate(),
  "batch/v1/Job": (o) => new Job(o as unknown as IJob).validate(),
  "v1/Secret": (o) => new Secret(o as unknown as ISecret).validate(),
};

let home = "";

function render(extraArgs: string[] = []): RenderedObject[] {
  const result = helm(["template", release, chartDir, "--namespace", namespace, ...extraArgs], home);
  assert.equal(result.status, 0, `helm template failed:\n${result.stderr}`);
  const objects: RenderedObject[] = [];
  for (const doc of parseAllDocuments(result.stdout)) {
    assert.equal(
      doc.errors.length,
      0,
      `rendered YAML does not parse: ${doc.errors.map((e) => e.message).join("; ")}`,
    );
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    objects.push(value as RenderedObject);
  }
  return objects;
}

function ofKind<T>(objects: RenderedObject[], kind: string): (RenderedObject & T)[] {
  return objects.filter((o) => o.kind === kind) as (RenderedObject & T)[];
}

function component(o: RenderedObject): string | undefined {
  return o.metadata.labels?.["app.kubernetes.io/component"];
}

function byComponent<T>(objects: (RenderedObject & T)[]): Map<string, RenderedObject & T> {
  return new Map(objects.map((o) => [component(o) ?? "", o]));
}

/** The gateway configuration the services would read, with the dialback secret file made real. */
function renderedConfig(objects: RenderedObject[]): { text: string; document: Record<string, unknown> } {
  const cm = ofKind<IConfigMap>(objects, "ConfigMap").find((c) => c.data?.["passerelle.yaml"] !== undefined);
  assert.ok(cm, "a ConfigMap with passerelle.yaml");
  const text = cm.data?.["passerelle.yaml"] ?? "";
  return { text, document: parseYaml(text) as Record<string, unknown> };
}

function validateAsServices(document: Record<string, unknown>): ReturnType<typeof validateConfig> {
  // The secret file exists in the pods; here a stand-in with a secret of the right length.
  const dir = mkdtempSync(join(tmpdir(), "passerelle-chart-"));
  try {
    const secretFile = join(dir, "dialback");
    writeFileSync(secretFile, "0123456789abcdef0123456789abcdef\n");
    const copy = structuredClone(document) as { gateway: { dialback: { secretFile: string } } };
    copy.gateway.dialback.secretFile = secretFile;
    return validateConfig(copy, "rendered ConfigMap");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type Container = NonNullable<NonNullable<IDeployment["spec"]>["template"]["spec"]>["containers"][number];

function containerOf(d: IDeployment): Container {
  const c = d.spec?.template.spec?.containers[0];
  assert.ok(c, `${d.metadata?.name}: a container`);
  return c;
}

/** Metric names the code registers, plus prom-client's default metrics under our prefix. */
function knownMetrics(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      if (name === "node_modules" || name.startsWith(".")) continue;
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith(".ts") && !name.endsWith(".test.ts")) {
        for (const m of readFileSync(path, "utf8").matchAll(/name: "(passerelle_[a-z0-9_]+)"/g))
          names.add(m[1] ?? "");
      }
    }
  };
  walk(join(repoRoot, "packages"));
  walk(join(repoRoot, "services"));
  const require = createRequire(join(repoRoot, "packages", "telemetry", "package.json"));
  const metricsDir = join(dirname(require.resolve("prom-client/package.json")), "lib", "metrics");
  for (const file of readdirSync(metricsDir).filter((f) => f.endsWith(".js"))) {
    for (const m of readFileSync(join(metricsDir, file), "utf8").matchAll(/'((?:process|nodejs)_[a-z_]+)'/g))
      names.add(`passerelle_${m[1] ?? ""}`);
  }
  return names;
}

before(() => {
  home = mkdtempSync(join(tmpdir(), "passerelle-helm-home-"));
});
after(() => {
  rmSync(home, { recursive: true, force: true });
});

describe("helm lint --strict", () => {
  test("default values", () => {
    const r = helm(["lint", "--strict", chartDir], home);
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  });
  test("overrides", () => {
    const r = helm(["lint", "--strict", chartDir, "-f", overridesFile], home);
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  });
});

for (const [label, args] of [
  ["default values", []],
  ["overrides", ["-f", overridesFile]],
] as const) {
  describe(`helm template with ${label}`, () => {
    let objects: RenderedObject[] = [];
    before(() => {
      objects = render([...args]);
    });

    test("every object validates against its Kubernetes schema", () => {
      assert.ok(objects.length > 10, `only ${objects.length} objects rendered`);
      for (const o of objects) {
        const validate = validators[`${o.apiVersion}/${o.kind}`];
        assert.ok(validate, `no schema for ${o.apiVersion} ${o.kind} (${o.metadata.name})`);
        assert.doesNotThrow(() => validate(o), `${o.kind} ${o.metadata.name}`);
        assert.equal(
          o.metadata.labels?.["app.kubernetes.io/instance"],
          release,
          `${o.kind} ${o.metadata.name}: instance label`,
        );
      }
    });

    test("one Deployment per service, labelled with its component, running its own main.ts", () => {
      const deployments = byComponent(ofKind<IDeployment>(objects, "Deployment"));
      assert.deepEqual([...deployments.keys()].sort(), [...components].sort());
      for (const [name, d] of deployments) {
        assert.equal(d.spec?.selector.matchLabels?.["app.kubernetes.io/component"], name);
        assert.equal(d.spec?.template.metadata?.labels?.["app.kubernetes.io/component"], name);
        const c = containerOf(d);
        assert.deepEqual(c.command, ["node", "--import", "tsx", `services/${name}/src/main.ts`]);
        assert.ok(
          existsSync(join(repoRoot, "services", name, "src", "main.ts")),
          `services/${name}/src/main.ts exists`,
        );
      }
    });

    test("probes: readiness /readyz, liveness /healthz, on the HTTP port the service listens on", () => {
      const { document } = renderedConfig(objects);
      const services = document.services as Record<string, { http: { port: number; host: string } }>;
      const key = (name: string): string => name.replace(/-([a-z])/g, (_m, ch: string) => ch.toUpperCase());
      for (const d of ofKind<IDeployment>(objects, "Deployment")) {
        const c = containerOf(d);
        assert.equal(c.readinessProbe?.httpGet?.path, "/readyz");
        assert.equal(c.readinessProbe?.httpGet?.port, "http");
        assert.equal(c.livenessProbe?.httpGet?.path, "/healthz");
        assert.equal(c.livenessProbe?.httpGet?.port, "http");
        const http = c.ports?.find((p) => p.name === "http");
        const env = new Map((c.env ?? []).map((e) => [e.name, e]));
        assert.equal(env.get("PASSERELLE_HTTP_PORT")?.value, String(http?.containerPort));
        const own = services[key(component(d) ?? "")]?.http;
        assert.equal(own?.port, http?.containerPort, "configuration and container agree on the HTTP port");
        assert.equal(own?.host, "0.0.0.0");
      }
    });

    test("environment: configuration path, POD_NAME from the downward API, log level", () => {
      for (const d of ofKind<IDeployment>(objects, "Deployment")) {
        const c = containerOf(d);
        const env = new Map((c.env ?? []).map((e) => [e.name, e]));
        assert.equal(env.get("POD_NAME")?.valueFrom?.fieldRef?.fieldPath, "metadata.name");
        assert.ok(env.get("LOG_LEVEL")?.value);
        const configPath = env.get("PASSERELLE_CONFIG")?.value ?? "";
        const mount = c.volumeMounts?.find((m) => configPath === `${m.mountPath}/passerelle.yaml`);
        assert.ok(mount, `${d.metadata?.name}: PASSERELLE_CONFIG is inside a mounted volume`);
        const volume = d.spec?.template.spec?.volumes?.find((v) => v.name === mount.name);
        assert.ok(volume?.configMap?.name?.endsWith("-config"));
        assert.equal(
          env.has("PASSERELLE_ADMIN_TOKEN"),
          false,
          "the admin token never comes as a plain variable",
        );
      }
    });

    test("checksum of what needs a restart on every pod template, the same for the services that read all of it", () => {
      const sums = new Map<string, string>();
      for (const d of ofKind<IDeployment>(objects, "Deployment")) {
        const sum = d.spec?.template.metadata?.annotations?.["checksum/config"] ?? "";
        assert.match(sum, /^[0-9a-f]{64}$/);
        sums.set(component(d) ?? "", sum);
      }
      const others = new Set([...sums].filter(([name]) => name !== "dns-registrar").map(([, sum]) => sum));
      assert.equal(others.size, 1, "every service but the dns-registrar restarts for the same changes");
      assert.notEqual(sums.get("dns-registrar"), [...others][0], "the dns-registrar's sum leaves out what it applies live");
    });

    test("non-root, read-only root filesystem, no privilege escalation, SIGTERM grace", () => {
      for (const d of ofKind<IDeployment>(objects, "Deployment")) {
        const pod = d.spec?.template.spec;
        assert.equal(pod?.securityContext?.runAsNonRoot, true);
        assert.notEqual(pod?.securityContext?.runAsUser, 0);
        assert.equal(pod?.automountServiceAccountToken, false);
        assert.ok((pod?.terminationGracePeriodSeconds ?? 0) >= 10);
        const sc = containerOf(d).securityContext;
        assert.equal(sc?.readOnlyRootFilesystem, true);
        assert.equal(sc?.allowPrivilegeEscalation, false);
        assert.deepEqual(sc?.capabilities?.drop, ["ALL"]);
        // A writable /tmp for tsx's cache.
        assert.ok(containerOf(d).volumeMounts?.some((m) => m.mountPath === "/tmp"));
      }
    });

    test("no Secret is rendered: secrets only come from existing Secrets", () => {
      assert.equal(objects.filter((o) => o.kind === "Secret").length, 0);
      assert.ok(!JSON.stringify(objects).includes("values-secret-that-must-not-render"));
      const { document } = renderedConfig(objects);
      const dialback = (document.gateway as { dialback: Record<string, unknown> }).dialback;
      assert.deepEqual(Object.keys(dialback), ["secretFile"]);
      for (const d of ofKind<IDeployment>(objects, "Deployment")) {
        const c = containerOf(d);
        const mount = c.volumeMounts?.find((m) => String(dialback.secretFile).startsWith(`${m.mountPath}/`));
        assert.ok(mount, `${d.metadata?.name}: the dialback secret file is mounted`);
        const volume = d.spec?.template.spec?.volumes?.find((v) => v.name === mount.name);
        assert.ok(volume?.secret?.secretName, `${d.metadata?.name}: from an existing Secret`);
      }
    });

    test("the ConfigMap's passerelle.yaml passes validateConfig", () => {
      const { document } = renderedConfig(objects);
      const config = validateAsServices(document);
      assert.ok(config.domains.length >= 1);
      assert.equal(config.sip.listen.host, "0.0.0.0");
      assert.equal(config.edge.listen.host, "0.0.0.0");
    });

    test("Services: edge s2s on 5269, SIP on UDP and TCP 5070, HTTP as ClusterIP", () => {
      const services = ofKind<IService>(objects, "Service");
      const edge = services.find((s) => s.metadata.name.endsWith("-edge-listener-s2s"));
      assert.ok(edge);
      assert.deepEqual(
        edge.spec?.ports?.map((p) => [p.port, p.protocol, p.targetPort]),
        [[5269, "TCP", "xmpp-s2s"]],
      );
      const sip = services.find((s) => s.metadata.name.endsWith("-sip-translator-sip"));
      assert.ok(sip);
      assert.deepEqual(sip.spec?.ports?.map((p) => `${p.protocol}/${p.port}`).sort(), [
        "TCP/5070",
        "UDP/5070",
      ]);
      const http = services.filter((s) => s.spec?.ports?.some((p) => p.name === "http"));
      assert.equal(http.length, components.length);
      for (const s of http) {
        assert.equal(s.spec?.type, "ClusterIP");
        const extra = component(s) === "policy" ? ["grpc", "admin-tls"] : [];
        for (const p of s.spec?.ports ?? []) {
          assert.ok(p.name === "http" || extra.includes(p.name ?? ""), `${s.metadata.name}: port ${p.name}`);
          assert.equal(p.targetPort, p.name, `${s.metadata.name}: port ${p.name} targets the container's port of that name`);
        }
      }
      for (const s of services) {
        const selected = s.spec?.selector?.["app.kubernetes.io/component"];
        assert.ok(
          selected !== undefined && components.includes(selected),
          `${s.metadata.name} selects one component`,
        );
      }
    });

    test("policy's gRPC API: on 0.0.0.0 in the configuration, a container port and a Service port of the same number", () => {
      const { document } = renderedConfig(objects);
      const grpc = validateAsServices(document).services.policy.grpc;
      assert.equal(grpc.host, "0.0.0.0");
      const policy = byComponent(ofKind<IDeployment>(objects, "Deployment")).get("policy");
      assert.ok(policy);
      const port = containerOf(policy).ports?.find((p) => p.name === "grpc");
      assert.equal(port?.containerPort, grpc.port);
      assert.equal(port?.protocol, "TCP");
      const service = ofKind<IService>(objects, "Service").find((s) => s.metadata.name === "gw-passerelle-policy");
      const servicePort = service?.spec?.ports?.find((p) => p.name === "grpc");
      assert.equal(servicePort?.port, grpc.port);
      assert.equal(servicePort?.targetPort, "grpc");
      for (const d of ofKind<IDeployment>(objects, "Deployment")) {
        if (component(d) === "policy") continue;
        assert.ok(!containerOf(d).ports?.some((p) => p.name === "grpc"), `${component(d)} has no gRPC port`);
      }
    });

    test("dns-registrar: the configuration is a whole ConfigMap volume (no subPath), so an update reaches the polled file", () => {
      const registrar = byComponent(ofKind<IDeployment>(objects, "Deployment")).get("dns-registrar");
      assert.ok(registrar);
      const c = containerOf(registrar);
      const configPath = c.env?.find((e) => e.name === "PASSERELLE_CONFIG")?.value ?? "";
      const mount = c.volumeMounts?.find((m) => configPath.startsWith(`${m.mountPath}/`));
      assert.ok(mount);
      assert.equal(mount.subPath, undefined, "a subPath mount is never updated by the kubelet");
      assert.equal(mount.subPathExpr, undefined);
      const volume = registrar.spec?.template.spec?.volumes?.find((v) => v.name === mount.name);
      assert.equal(volume?.configMap?.name, "gw-passerelle-config");
      assert.equal(volume?.configMap?.items, undefined, "the whole ConfigMap, so its ..data symlink swap is seen");
      for (const d of ofKind<IDeployment>(objects, "Deployment"))
        for (const m of containerOf(d).volumeMounts ?? []) assert.equal(m.subPath, undefined, `${component(d)}: ${m.name} without subPath`);
    });

    test("dashboards: ConfigMaps labelled grafana_dashboard=1, queries on metrics the code registers", () => {
      const dashboards = ofKind<IConfigMap>(objects, "ConfigMap").filter(
        (c) => c.metadata.labels?.grafana_dashboard === "1",
      );
      assert.ok(dashboards.length >= 2);
      const known = knownMetrics();
      const everyUsed = new Set<string>();
      for (const cm of dashboards) {
        for (const [file, json] of Object.entries(cm.data ?? {})) {
          const dashboard = JSON.parse(json) as { uid: string; panels: { targets?: { expr: string }[] }[] };
          assert.ok(dashboard.uid, `${file}: a uid`);
          const used = new Set<string>();
          for (const panel of dashboard.panels) {
            for (const t of panel.targets ?? [])
              for (const m of t.expr.matchAll(/passerelle_[a-z0-9_]+/g)) used.add(m[0]);
          }
          assert.ok(used.size >= 8, `${file}: uses ${used.size} metrics`);
          for (const name of used) everyUsed.add(name);
          for (const name of used) {
            const base = name.replace(/_(bucket|sum|count)$/, "");
            assert.ok(
              known.has(name) || known.has(base),
              `${file}: ${name} is not a metric the code registers`,
            );
          }
        }
      }
      // The operations metrics each have a panel.
      for (const name of [
        "passerelle_edge_certificate_expiry_days",
        "passerelle_sip_presence_total",
        "passerelle_partner_store_revision",
        "passerelle_partner_reloads_total",
        "passerelle_policy_admin_requests_total",
        "passerelle_dns_publish_drift_total",
        "passerelle_dns_published_in_sync",
        "passerelle_dns_config_reloads_total",
      ])
        assert.ok(everyUsed.has(name), `no dashboard panel on ${name}`);
    });
  });
}

describe("gated objects", () => {
  test("defaults: no HPA, PodDisruptionBudget or ServiceMonitor; replicas set", () => {
    const objects = render();
    for (const kind of ["HorizontalPodAutoscaler", "PodDisruptionBudget", "ServiceMonitor"]) {
      assert.equal(ofKind(objects, kind).length, 0, kind);
    }
    for (const d of ofKind<IDeployment>(objects, "Deployment")) assert.ok((d.spec?.replicas ?? 0) >= 1);
    const edge = ofKind<IService>(objects, "Service").find((s) =>
      s.metadata.name.endsWith("-edge-listener-s2s"),
    );
    assert.equal(edge?.spec?.type, "LoadBalancer");
  });

  test("overrides: exactly the components that enable them, per component values win", () => {
    const objects = render(["-f", overridesFile]);
    const names = (kind: string): string[] =>
      ofKind(objects, kind)
        .map((o) => component(o) ?? "")
        .sort();
    assert.deepEqual(names("HorizontalPodAutoscaler"), ["edge-listener", "policy"]);
    assert.deepEqual(names("PodDisruptionBudget"), ["edge-listener", "policy"]);
    assert.deepEqual(names("ServiceMonitor"), [
      "dialback-authority",
      "edge-listener",
      "policy",
      "sip-translator",
    ]);

    const hpa = byComponent(ofKind<IHorizontalPodAutoscaler>(objects, "HorizontalPodAutoscaler"));
    assert.equal(hpa.get("edge-listener")?.spec?.maxReplicas, 12);
    assert.equal(hpa.get("edge-listener")?.spec?.metrics?.length, 2);
    assert.equal(hpa.get("policy")?.spec?.maxReplicas, 6);
    const deployments = byComponent(ofKind<IDeployment>(objects, "Deployment"));
    assert.equal(deployments.get("edge-listener")?.spec?.replicas, undefined, "the HPA owns replicas");
    assert.equal(deployments.get("sip-translator")?.spec?.replicas, 3);
    const edge = deployments.get("edge-listener");
    assert.ok(edge);
    assert.equal(containerOf(edge).resources?.limits?.memory, "1Gi");
    assert.equal(containerOf(edge).image, "registry.example.net/passerelle:1.2.3");
    const pdb = byComponent(ofKind<IPodDisruptionBudget>(objects, "PodDisruptionBudget"));
    assert.equal(pdb.get("policy")?.spec?.minAvailable, 1);
    assert.equal(pdb.get("edge-listener")?.spec?.maxUnavailable, 1);
    const sm = ofKind<IServiceMonitor>(objects, "ServiceMonitor")[0];
    assert.equal(sm?.metadata.labels?.release, "kube-prometheus-stack");
    assert.equal(sm?.spec.endpoints?.[0]?.port, "http");
  });

  test("overrides: TLS from a kubernetes.io/tls Secret mounted as files (no subPath), admin token as a file", () => {
    const objects = render(["-f", overridesFile]);
    const { document } = renderedConfig(objects);
    const config = validateAsServices(document);
    assert.ok(config.edge.tls);
    assert.equal(config.gateway.limits.maxStanzaBytes, 1048576);
    assert.equal(config.partners.length, 2);
    const deployments = byComponent(ofKind<IDeployment>(objects, "Deployment"));
    for (const name of ["edge-listener", "dialback-authority"]) {
      const d = deployments.get(name);
      assert.ok(d);
      const mount = containerOf(d).volumeMounts?.find((m) =>
        config.edge.tls?.certFile.startsWith(`${m.mountPath}/`),
      );
      assert.ok(mount, `${name}: the certificate is mounted`);
      assert.equal(mount.subPath, undefined, "a subPath mount would never see a renewal");
      const volume = d.spec?.template.spec?.volumes?.find((v) => v.name === mount.name);
      assert.equal(volume?.secret?.secretName, "gw-edge-tls");
      assert.ok(
        containerOf(d).volumeMounts?.some((m) => config.edge.tls?.caFile?.startsWith(`${m.mountPath}/`)),
        `${name}: partners' CA mounted`,
      );
    }
    for (const name of ["policy", "sip-translator", "dns-registrar"]) {
      const volumes = deployments.get(name)?.spec?.template.spec?.volumes ?? [];
      assert.ok(
        !volumes.some((v) => v.secret?.secretName === "gw-edge-tls"),
        `${name} does not get the edge's key`,
      );
    }
    const policy = deployments.get("policy");
    assert.ok(policy);
    const tokenFile =
      containerOf(policy).env?.find((e) => e.name === "PASSERELLE_ADMIN_TOKENS_FILE")?.value ?? "";
    const tokenMount = containerOf(policy).volumeMounts?.find((m) => tokenFile.startsWith(`${m.mountPath}/`));
    assert.ok(tokenMount);
    assert.equal(
      policy.spec?.template.spec?.volumes?.find((v) => v.name === tokenMount.name)?.secret?.secretName,
      "gw-admin",
    );
  });

  /** Each component's checksum annotation. */
  const sums = (args: string[]): Map<string, string> =>
    new Map(
      ofKind<IDeployment>(render(args), "Deployment").map((d) => [
        component(d) ?? "",
        d.spec?.template.metadata?.annotations?.["checksum/config"] ?? "",
      ]),
    );

  test("direct TLS (XEP-0368): off by default; when set, the edge Pods and the s2s Service open it and the config carries it", () => {
    const portsOf = (objects: RenderedObject[]) => {
      const edge = byComponent(ofKind<{ spec: { template: { spec: { containers: { ports?: { name: string; containerPort: number }[] }[] } } } }>(objects, "Deployment")).get("edge-listener");
      return new Map((edge?.spec.template.spec.containers[0]?.ports ?? []).map((p) => [p.name, p.containerPort]));
    };
    const servicePorts = (objects: RenderedObject[]) =>
      ofKind<{ spec: { ports: { name: string; port: number }[] } }>(objects, "Service").flatMap((svc) => svc.spec.ports.map((p) => `${p.name}:${p.port}`));
    const plain = render();
    assert.equal(portsOf(plain).has("xmpps-s2s"), false);
    assert.ok(!servicePorts(plain).some((p) => p.startsWith("xmpps-s2s")));
    const direct = render(["--set", "config.edge.directTls.port=5270"]);
    assert.equal(portsOf(direct).get("xmpps-s2s"), 5270);
    assert.ok(servicePorts(direct).includes("xmpps-s2s:5270"));
    assert.deepEqual((renderedConfig(direct).document.edge as { directTls?: unknown }).directTls, { port: 5270 });
  });

  test("traces: no exporter, no tracing variables; with an endpoint, the sampler and its ratio reach every service", () => {
    const envOf = (objects: RenderedObject[]) =>
      ofKind<{ spec: { template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } } } }>(objects, "Deployment").map(
        (d) => new Map((d.spec.template.spec.containers[0]?.env ?? []).map((e) => [e.name, e.value])),
      );
    for (const env of envOf(render())) {
      assert.equal(env.has("OTEL_EXPORTER_OTLP_ENDPOINT"), false);
      assert.equal(env.has("OTEL_TRACES_SAMPLER"), false);
    }
    const traced = envOf(render(["--set", "otel.endpoint=http://collector:4317", "--set", "otel.ratio=0.25"]));
    assert.equal(traced.length, 5);
    for (const env of traced) {
      assert.equal(env.get("OTEL_EXPORTER_OTLP_ENDPOINT"), "http://collector:4317");
      assert.equal(env.get("OTEL_TRACES_SAMPLER"), "parentbased_traceidratio");
      assert.equal(env.get("OTEL_TRACES_SAMPLER_ARG"), "0.25");
    }
  });

  test("partners only seed the store: changing them rolls no pod, though the ConfigMap changes", () => {
    const before = sums(["-f", overridesFile]);
    const changed = [
      "-f",
      overridesFile,
      "--set",
      "config.partners[0].domain=northwind.example",
      "--set",
      "config.partners[0].type=federated",
    ];
    assert.deepEqual(sums(changed), before);
    assert.notEqual(renderedConfig(render(changed)).text, renderedConfig(render(["-f", overridesFile])).text);
    assert.deepEqual(sums(["--set", "config.partners=null"]), sums([]));
  });

  test("a configuration change a service cannot apply live rolls it; the dns-registrar's live settings do not roll it", () => {
    const before = sums([]);
    const edgeFqdn = sums(["--set", "config.gateway.edgeFqdn=xmpp2.example.com"]);
    for (const name of components.filter((n) => n !== "dns-registrar"))
      assert.notEqual(edgeFqdn.get(name), before.get(name), `${name} rolls for a new edge FQDN`);
    assert.equal(edgeFqdn.get("dns-registrar"), before.get("dns-registrar"), "the registrar applies the edge FQDN live");

    const publish = ["--set", "config.dns.publish.server=192.0.2.53:53", "--set", "config.dns.publish.tsig.name=k"];
    const withPublish = sums(publish);
    assert.notEqual(withPublish.get("dns-registrar"), before.get("dns-registrar"), "dns.publish added: a restart");
    const ttl = sums([...publish, "--set", "config.dns.publish.ttl=600", "--set", "config.domains[0].xmpp=other.example"]);
    assert.equal(ttl.get("dns-registrar"), withPublish.get("dns-registrar"), "ttl and domains are applied live");
    assert.notEqual(ttl.get("policy"), withPublish.get("policy"), "a new domain rolls the other services");
    const server = sums([...publish, "--set", "config.dns.publish.server=192.0.2.54:53"]);
    assert.notEqual(server.get("dns-registrar"), withPublish.get("dns-registrar"), "a new server needs a restart");
  });

  test("a component can be switched off", () => {
    const objects = render(["--set", "components.dnsRegistrar.enabled=false"]);
    assert.ok(!objects.some((o) => component(o) === "dns-registrar"));
  });
});

describe("admin tokens", () => {
  test("defaults: no token anywhere, no Secret, no token file", () => {
    const values = readFileSync(join(chartDir, "values.yaml"), "utf8");
    assert.doesNotMatch(values, /^\s*token:\s*\S/m, "values.yaml holds no token");
    const objects = render();
    assert.equal(ofKind(objects, "Secret").length, 0);
    const policy = byComponent(ofKind<IDeployment>(objects, "Deployment")).get("policy");
    assert.ok(policy);
    const env = containerOf(policy).env ?? [];
    assert.ok(!env.some((e) => e.name.startsWith("PASSERELLE_ADMIN_TOKEN")));
  });

  test("generated: a kept Secret with random tokens, mounted as PASSERELLE_ADMIN_TOKENS_FILE, that policy accepts", () => {
    const objects = render(["--set", "secrets.adminTokens.generate=true"]);
    const secrets = ofKind<ISecret>(objects, "Secret");
    assert.equal(secrets.length, 1);
    const secret = secrets[0];
    assert.ok(secret);
    assert.equal(secret.metadata.name, "gw-passerelle-admin-tokens");
    assert.equal(secret.metadata.annotations?.["helm.sh/resource-policy"], "keep");
    const data = Object.fromEntries(
      Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
    );
    const policy = byComponent(ofKind<IDeployment>(objects, "Deployment")).get("policy");
    assert.ok(policy);
    const c = containerOf(policy);
    const file = c.env?.find((e) => e.name === "PASSERELLE_ADMIN_TOKENS_FILE")?.value ?? "";
    const mount = c.volumeMounts?.find((m) => file.startsWith(`${m.mountPath}/`));
    assert.ok(mount, "the tokens file is in a mounted volume");
    const volume = policy.spec?.template.spec?.volumes?.find((v) => v.name === mount.name);
    assert.equal(volume?.secret?.secretName, secret.metadata.name);
    const key = file.slice(mount.mountPath.length + 1);
    assert.deepEqual(volume?.secret?.items?.map((i) => i.path), [key]);
    // The file as policy reads it.
    const dir = mkdtempSync(join(tmpdir(), "passerelle-chart-tokens-"));
    try {
      writeFileSync(join(dir, key), data[key] ?? "");
      const tokens = readAdminTokens({ PASSERELLE_ADMIN_TOKENS_FILE: join(dir, key) });
      assert.deepEqual(tokens.map((t) => t.name), ["admin", "gitops"]);
      assert.equal(tokens[0]?.token, data["admin-token"]);
      assert.equal(tokens[1]?.token, data["gitops-token"]);
      assert.ok(tokens.every((t) => t.token.length >= 32));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Random per render (helm lookup keeps them in a cluster; offline there is nothing to look up).
    const again = ofKind<ISecret>(render(["--set", "secrets.adminTokens.generate=true"]), "Secret")[0];
    assert.notEqual(again?.data?.["admin-token"], secret.data?.["admin-token"]);
    // Only policy sees them.
    for (const d of ofKind<IDeployment>(objects, "Deployment")) {
      if (component(d) === "policy") continue;
      assert.ok(!d.spec?.template.spec?.volumes?.some((v) => v.secret?.secretName === secret.metadata.name));
    }
  });

  test("the replaced secrets.adminToken is refused with a message naming its successor", () => {
    const r = helm(
      ["template", release, chartDir, "--set", "secrets.adminToken.existingSecret=old"],
      home,
    );
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /secrets\.adminTokens/);
  });
});

describe("admin API over TLS (overrides)", () => {
  test("the listener's files are mounted from the Secrets, the port on the container and the Service", () => {
    const objects = render(["-f", overridesFile]);
    const { document } = renderedConfig(objects);
    const adminTls = validateAsServices(document).services.policy.adminTls;
    assert.ok(adminTls);
    assert.equal(adminTls.requireClientCert, true);
    assert.equal(adminTls.host, "0.0.0.0");
    const policy = byComponent(ofKind<IDeployment>(objects, "Deployment")).get("policy");
    assert.ok(policy);
    const c = containerOf(policy);
    const volumes = policy.spec?.template.spec?.volumes ?? [];
    for (const file of [adminTls.certFile, adminTls.keyFile, adminTls.clientCaFile]) {
      const mount = c.volumeMounts?.find((m) => file.startsWith(`${m.mountPath}/`));
      assert.ok(mount, `${file} is mounted`);
      assert.equal(mount.subPath, undefined);
      const volume = volumes.find((v) => v.name === mount.name);
      assert.equal(volume?.secret?.secretName, "gw-admin-tls");
      assert.ok(volume?.secret?.items?.some((i) => file.endsWith(`/${i.path}`)), `${file}: the Secret's key`);
    }
    assert.equal(c.ports?.find((p) => p.name === "admin-tls")?.containerPort, adminTls.port);
    const service = ofKind<IService>(objects, "Service").find((s) => s.metadata.name === "gw-passerelle-policy");
    assert.equal(service?.spec?.ports?.find((p) => p.name === "admin-tls")?.port, adminTls.port);
  });

  test("enabled without a client CA: refused", () => {
    const r = helm(
      ["template", release, chartDir, "--set", "adminTls.enabled=true", "--set", "adminTls.existingSecret=x"],
      home,
    );
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /adminTls\.clientCa/);
  });
});

describe("GitOps partner import", () => {
  test("defaults: no Job", () => {
    assert.equal(ofKind(render(), "Job").length, 0);
  });

  test("overrides: a post-install/post-upgrade hook Job runs `passerelle partner import --yes` on the ConfigMap's list", () => {
    const objects = render(["-f", overridesFile]);
    const jobs = ofKind<IJob>(objects, "Job");
    assert.equal(jobs.length, 1);
    const job = jobs[0];
    assert.ok(job);
    assert.equal(job.metadata.annotations?.["helm.sh/hook"], "post-install,post-upgrade");
    const pod = job.spec?.template.spec;
    assert.equal(pod?.restartPolicy, "Never");
    assert.equal(pod?.securityContext?.runAsNonRoot, true);
    const c = pod?.containers[0];
    assert.ok(c);
    const command = c.command ?? [];
    assert.deepEqual(command.slice(0, 6), ["node", "--import", "tsx", "packages/cli/src/main.ts", "partner", "import"]);
    assert.ok(existsSync(join(repoRoot, "packages", "cli", "src", "main.ts")));
    assert.ok(command.includes("--yes"));
    const arg = (flag: string): string => command[command.indexOf(flag) + 1] ?? "";
    // The policy Service's HTTP port.
    const policyService = ofKind<IService>(objects, "Service").find((s) => s.metadata.name === "gw-passerelle-policy");
    const httpPort = policyService?.spec?.ports?.find((p) => p.name === "http")?.port;
    assert.equal(arg("--url"), `http://gw-passerelle-policy:${httpPort}`);
    // The token from the admin tokens' Secret.
    const tokenMount = c.volumeMounts?.find((m) => arg("--token-file").startsWith(`${m.mountPath}/`));
    assert.ok(tokenMount);
    const tokenVolume = pod?.volumes?.find((v) => v.name === tokenMount.name);
    assert.equal(tokenVolume?.secret?.secretName, "gw-admin");
    assert.deepEqual(tokenVolume?.secret?.items, [{ key: "gitops-token", path: "token" }]);
    // The list, as a ConfigMap hook created before the Job; every partner is a valid entry.
    const file = command[6] ?? "";
    const listMount = c.volumeMounts?.find((m) => file.startsWith(`${m.mountPath}/`));
    assert.ok(listMount);
    const cmName = pod?.volumes?.find((v) => v.name === listMount.name)?.configMap?.name;
    const cm = ofKind<IConfigMap>(objects, "ConfigMap").find((m) => m.metadata.name === cmName);
    assert.ok(cm);
    assert.ok(Number(cm.metadata.annotations?.["helm.sh/hook-weight"]) < Number(job.metadata.annotations?.["helm.sh/hook-weight"]));
    const document = parseYaml(cm.data?.[file.slice(listMount.mountPath.length + 1)] ?? "") as {
      partners: unknown[];
      settings?: { xmppAccessDefault?: boolean };
    };
    assert.deepEqual(
      document.partners.map((p) => partnerSchema.parse(p).domain),
      ["fabrikam.com", "northwind.example"],
    );
    assert.equal(document.settings?.xmppAccessDefault, false);
    // The import is not in the pods' checksum either.
    const sum = (o: RenderedObject[]): string[] =>
      ofKind<IDeployment>(o, "Deployment").map((d) => d.spec?.template.metadata?.annotations?.["checksum/config"] ?? "");
    assert.deepEqual(sum(render(["-f", overridesFile, "--set", "gitops.partners[0].domain=other.example"])), sum(objects));
  });

  test("the Job's command, its ConfigMap and token as mounted files, imports the list through policy's admin API", async () => {
    const objects = render(["-f", overridesFile]);
    const job = ofKind<IJob>(objects, "Job")[0];
    const pod = job?.spec?.template.spec;
    const c = pod?.containers[0];
    assert.ok(pod && c);
    const scope = createScope("helm-gitops-import");
    try {
      // The pod's filesystem: each mounted volume's files under a root of ours.
      const root = scope.dir("pod");
      const token = "gitops-token-from-the-secret-0123456789";
      const files = new Map<string, string>();
      for (const mount of c.volumeMounts ?? []) {
        const volume = pod.volumes?.find((v) => v.name === mount.name);
        if (volume?.configMap !== undefined) {
          const cm = ofKind<IConfigMap>(objects, "ConfigMap").find((m) => m.metadata.name === volume.configMap?.name);
          for (const [key, text] of Object.entries(cm?.data ?? {})) files.set(`${mount.mountPath}/${key}`, text);
        } else if (volume?.secret !== undefined) {
          for (const item of volume.secret.items ?? []) files.set(`${mount.mountPath}/${item.path}`, `${token}\n`);
        }
      }
      for (const [path, text] of files) {
        scope.dir("pod", dirname(path));
        writeFileSync(join(root, path), text);
      }
      const redis = await startRedis(scope);
      const app = await buildAdminApp(redis.url, [{ name: "gitops", token }]);
      scope.defer("admin app", () => app.close());
      await app.redis.flushall();
      await app.app.listen({ host: "127.0.0.1", port: 0 });
      const address = app.app.server.address() as { port: number };
      // The container's arguments after `node --import tsx packages/cli/src/main.ts`, paths inside our root.
      const command = c.command ?? [];
      const argv = command.slice(4).map((arg, i, all) => {
        if (all[i - 1] === "--url") return `http://127.0.0.1:${address.port}`;
        return files.has(arg) ? join(root, arg) : arg;
      });
      const ctx = recordingContext(root);
      const code = await runCli(argv, ctx);
      assert.equal(code, 0, ctx.stderr.join("\n"));
      const snapshot = await app.store.snapshot();
      assert.deepEqual(snapshot.partners.map((p) => p.domain).sort(), ["fabrikam.com", "northwind.example"]);
      assert.equal(snapshot.settings.xmppAccessDefault, false);
      const [entry] = await app.admin.audit(1);
      assert.equal(entry?.actor, "gitops");
      assert.equal(entry?.action, "import");
    } finally {
      await scope.close();
    }
  });

  test("without an admin token: refused with a message", () => {
    const r = helm(["template", release, chartDir, "--set", "gitops.partners[0].domain=a.example"], home);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /gitops\.partners needs an admin token/);
  });
});

describe("PrometheusRule", () => {
  test("defaults: none", () => {
    assert.equal(ofKind(render(), "PrometheusRule").length, 0);
  });

  test("overrides: certificate expiry under 30 days and DNS drift, on metrics the code registers", () => {
    const rules = ofKind<IPrometheusRule>(render(["-f", overridesFile]), "PrometheusRule");
    assert.equal(rules.length, 1);
    const rule = rules[0];
    assert.ok(rule);
    assert.equal(rule.metadata.labels?.release, "kube-prometheus-stack");
    const alerts = new Map(
      (rule.spec.groups ?? []).flatMap((g) => g.rules ?? []).map((r) => [r.alert ?? "", String(r.expr)]),
    );
    const known = knownMetrics();
    for (const [alert, expr] of alerts) {
      const used = [...expr.matchAll(/passerelle_[a-z0-9_]+/g)].map((m) => m[0]);
      assert.ok(used.length > 0, `${alert}: a metric`);
      for (const name of used) assert.ok(known.has(name), `${alert}: ${name} is not a metric the code registers`);
      assert.ok(expr.includes(`namespace="${namespace}"`), `${alert}: scoped to the release's namespace`);
    }
    assert.match(alerts.get("PasserelleEdgeCertificateExpiringSoon") ?? "", /passerelle_edge_certificate_expiry_days\{[^}]*\}\) < 30$/);
    assert.match(alerts.get("PasserelleDnsRecordsOutOfSync") ?? "", /passerelle_dns_published_in_sync/);
    assert.match(alerts.get("PasserelleDnsRecordsDrifting") ?? "", /passerelle_dns_publish_drift_total/);
  });
});
