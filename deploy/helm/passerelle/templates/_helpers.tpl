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
{{- $_ := set $cfg "services" $services -}}
{{- toYaml $cfg -}}
{{- end -}}
