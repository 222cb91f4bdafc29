{{/* Names and labels. */}}
{{- define "passerelle.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "passerelle.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "passerelle.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of everything the release makes; (dict "root" $ "component" NAME) or the root context. */}}
{{- define "passerelle.labels" -}}
{{- $root := .root | default . -}}
helm.sh/chart: {{ include "passerelle.chart" $root }}
{{ include "passerelle.selectorLabels" . }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: passerelle
{{- end -}}

{{- define "passerelle.selectorLabels" -}}
{{- $root := .root | default . -}}
app.kubernetes.io/name: {{ include "passerelle.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}

{{/* Name of a component's objects: (dict "root" $ "component" NAME). */}}
{{- define "passerelle.componentFullname" -}}
{{- printf "%s-%s" (include "passerelle.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "passerelle.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "passerelle.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "passerelle.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
A component's values: `defaults` deep-merged with the component's own (the component wins).
sprig's mergeOverwrite does not let false or 0 override a default, so the `enabled` switches of
autoscaling, podDisruptionBudget and serviceMonitor are taken from the component whenever it
sets them. (dict "root" $ "key" KEY) -> YAML; use with fromYaml.
*/}}
{{- define "passerelle.componentValues" -}}
{{- $own := index .root.Values.components .key | default dict -}}
{{- $merged := mergeOverwrite (deepCopy .root.Values.defaults) (deepCopy $own) -}}
{{- range $gate := list "autoscaling" "podDisruptionBudget" "serviceMonitor" -}}
{{- $sub := index $own $gate -}}
{{- if and (kindIs "map" $sub) (hasKey $sub "enabled") -}}
{{- $_ := set (index $merged $gate) "enabled" (index $sub "enabled") -}}
{{- end -}}
{{- end -}}
{{- if not (hasKey $own "enabled") -}}
{{- $_ := set $merged "enabled" true -}}
{{- end -}}
{{- $_ := set $merged "key" .key -}}
{{- toYaml $merged -}}
{{- end -}}

{{/* Where things are mounted. */}}
{{- define "passerelle.configDir" -}}/etc/passerelle/config{{- end -}}
{{- define "passerelle.dialbackDir" -}}/etc/passerelle/secrets/dialback{{- end -}}
{{- define "passerelle.adminTokenDir" -}}/etc/passerelle/secrets/admin{{- end -}}
{{- define "passerelle.adminTlsDir" -}}/etc/passerelle/admin-tls{{- end -}}
{{- define "passerelle.adminClientCaDir" -}}/etc/passerelle/admin-client-ca{{- end -}}
{{- define "passerelle.gitopsDir" -}}/etc/passerelle/gitops{{- end -}}
{{- define "passerelle.tlsDir" -}}/etc/passerelle/tls{{- end -}}
{{- define "passerelle.partnersCaDir" -}}/etc/passerelle/partners-ca{{- end -}}

{{- define "passerelle.partnersCaEnabled" -}}
{{- if or .Values.tls.partnersCa.existingSecret .Values.tls.partnersCa.existingConfigMap -}}true{{- end -}}
{{- end -}}

{{/*
The gateway configuration file: .Values.config with what the deployment decides filled in.
*/}}
{{- define "passerelle.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) -}}
{{- $gateway := deepCopy (index $cfg "gateway" | default dict) -}}
{{- $_ := set $gateway "dialback" (dict "secretFile" (printf "%s/%s" (include "passerelle.dialbackDir" .) .Values.secrets.dialback.key)) -}}
{{- $_ := set $cfg "gateway" $gateway -}}
{{- $edge := deepCopy (index $cfg "edge" | default dict) -}}
{{- $_ := set $edge "listen" (mergeOverwrite (dict "host" "0.0.0.0" "port" 5269) (index $edge "listen" | default dict)) -}}
{{- $_ := unset $edge "tls" -}}
{{- if .Values.tls.existingSecret -}}
{{- $tls := dict "certFile" (printf "%s/tls.crt" (include "passerelle.tlsDir" .)) "keyFile" (printf "%s/tls.key" (include "passerelle.tlsDir" .)) -}}
{{- if include "passerelle.partnersCaEnabled" . -}}
{{- $_ := set $tls "caFile" (printf "%s/%s" (include "passerelle.partnersCaDir" .) .Values.tls.partnersCa.key) -}}
{{- end -}}
{{- $_ := set $edge "tls" $tls -}}
{{- end -}}
{{- $_ := set $cfg "edge" $edge -}}
{{- $sip := deepCopy (index $cfg "sip" | default dict) -}}
{{- $_ := set $sip "listen" (mergeOverwrite (dict "port" 5070 "transport" "udp") (index $sip "listen" | default dict) (dict "host" "0.0.0.0")) -}}
{{- $_ := set $cfg "sip" $sip -}}
{{- $_ := set $cfg "nats" (dict "url" .Values.nats.url) -}}
{{- $_ := set $cfg "redis" (dict "url" .Values.redis.url) -}}
{{- $services := dict -}}
{{- range $key, $component := .Values.components -}}
{{- $_ := set $services $key (dict "http" (dict "host" "0.0.0.0" "port" (int $component.httpPort))) -}}
{{- end -}}
{{- $policy := index $services "policy" -}}
{{- $_ := set $policy "grpc" (dict "host" "0.0.0.0" "port" (int (.Values.components.policy.grpcPort | default 9113))) -}}
{{- if .Values.adminTls.enabled -}}
{{- $_ := set $policy "adminTls" (dict "host" "0.0.0.0" "port" (int .Values.adminTls.port) "certFile" (printf "%s/tls.crt" (include "passerelle.adminTlsDir" .)) "keyFile" (printf "%s/tls.key" (include "passerelle.adminTlsDir" .)) "clientCaFile" (printf "%s/%s" (include "passerelle.adminClientCaDir" .) .Values.adminTls.clientCa.key) "requireClientCert" .Values.adminTls.requireClientCert) -}}
{{- end -}}
{{- $_ := set $cfg "services" $services -}}
{{- toYaml $cfg -}}
{{- end -}}


{{/*
What a component's pods must restart for: the rendered configuration without what is applied
live. `partners` only seeds a fresh partner store (the store is the source of truth after the
first start), so it never rolls a pod. The dns-registrar polls its mounted file and applies the
published records' settings live (domains, edge FQDN and port, dns.publish ttl/priority/weight),
so those do not roll it either. (dict "root" $ "key" KEY) -> the text the checksum is taken of.
*/}}
{{- define "passerelle.restartConfig" -}}
{{- $cfg := include "passerelle.config" .root | fromYaml -}}
{{- $_ := unset $cfg "partners" -}}
{{- if eq .key "dnsRegistrar" -}}
{{- $_ := unset $cfg "domains" -}}
{{- $_ := unset (index $cfg "gateway") "edgeFqdn" -}}
{{- $_ := unset (index (index $cfg "edge") "listen") "port" -}}
{{- $publish := index (index $cfg "dns" | default dict) "publish" -}}
{{- if kindIs "map" $publish -}}
{{- $_ := unset $publish "ttl" -}}
{{- $_ := unset $publish "priority" -}}
{{- $_ := unset $publish "weight" -}}
{{- end -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* The admin tokens' Secret and key, or nothing when neither an existing nor a generated one. */}}
{{- define "passerelle.adminTokensSecret" -}}
{{- if .Values.secrets.adminTokens.existingSecret -}}
{{- .Values.secrets.adminTokens.existingSecret -}}
{{- else if .Values.secrets.adminTokens.generate -}}
{{- include "passerelle.fullname" . }}-admin-tokens
{{- end -}}
{{- end -}}
