{{/* Names */}}
{{- define "aviary.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "aviary.component" -}}
{{- printf "%s-%s" (include "aviary.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "aviary.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "aviary.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Labels: call with (dict "root" $ "name" "router") */}}
{{- define "aviary.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "aviary.labels" -}}
{{ include "aviary.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* image: (dict "root" $ "image" .Values.router.image) */}}
{{- define "aviary.image" -}}
{{- $tag := .image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- if .root.Values.image.registry -}}
{{- printf "%s/%s:%s" .root.Values.image.registry .image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* An env var from a Secret: (dict "name" "DATABASE_URL" "secret" "s" "key" "k") */}}
{{- define "aviary.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret | quote }}
      key: {{ .key | quote }}
{{- end -}}

{{/* Plain extra env from a map, sorted for stable output. */}}
{{- define "aviary.extraEnv" -}}
{{- range $k, $v := . }}
- name: {{ $k }}
  value: {{ $v | toString | quote }}
{{- end -}}
{{- end -}}

{{- define "aviary.databaseEnv" -}}
{{ include "aviary.secretEnv" (dict "name" "DATABASE_URL" "secret" .Values.database.existingSecret "key" .Values.database.key) }}
{{- end -}}

{{/* Kafka brokers and security for the router and the analyzer. */}}
{{- define "aviary.kafkaEnv" -}}
- name: KAFKA_BROKERS
  value: {{ .Values.kafka.brokers | quote }}
{{- if .Values.kafka.tls.enabled }}
- name: KAFKA_SSL
  value: "true"
{{- if .Values.kafka.tls.caSecret }}
- name: KAFKA_SSL_CA_FILE
  value: /etc/aviary/kafka-ca/{{ .Values.kafka.tls.caKey }}
{{- end }}
{{- end }}
{{- if .Values.kafka.sasl.mechanism }}
- name: KAFKA_SASL_MECHANISM
  value: {{ .Values.kafka.sasl.mechanism | quote }}
{{ include "aviary.secretEnv" (dict "name" "KAFKA_SASL_USERNAME" "secret" .Values.kafka.sasl.existingSecret "key" .Values.kafka.sasl.usernameKey) }}
{{ include "aviary.secretEnv" (dict "name" "KAFKA_SASL_PASSWORD" "secret" .Values.kafka.sasl.existingSecret "key" .Values.kafka.sasl.passwordKey) }}
{{- end }}
{{- end -}}

{{- define "aviary.kafkaVolumeMounts" -}}
{{- if and .Values.kafka.tls.enabled .Values.kafka.tls.caSecret }}
- name: kafka-ca
  mountPath: /etc/aviary/kafka-ca
  readOnly: true
{{- end }}
{{- end -}}

{{- define "aviary.kafkaVolumes" -}}
{{- if and .Values.kafka.tls.enabled .Values.kafka.tls.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafka.tls.caSecret | quote }}
{{- end }}
{{- end -}}

{{/* The pod-level parts every Aviary pod shares (none of them calls the Kubernetes API). */}}
{{- define "aviary.podCommon" -}}
serviceAccountName: {{ include "aviary.serviceAccountName" . }}
{{ include "aviary.podSecurity" . }}
{{- end -}}

{{/* Hooks run before the release's ServiceAccount exists: they use the namespace's default one. */}}
{{- define "aviary.podSecurity" -}}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.image.pullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Probes on /healthz (liveness) and /readyz (readiness) of a named port. */}}
{{- define "aviary.probes" -}}
startupProbe:
  httpGet: { path: /healthz, port: {{ . }} }
  periodSeconds: 2
  failureThreshold: 60
livenessProbe:
  httpGet: { path: /healthz, port: {{ . }} }
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet: { path: /readyz, port: {{ . }} }
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
{{- end -}}

{{/* Upstream credentials as AVIARY_UPSTREAM_KEY_<NAME> env vars (the only env vars sent upstream). */}}
{{- define "aviary.upstreamCredentialsEnv" -}}
{{- range .Values.upstreamCredentials }}
{{ include "aviary.secretEnv" (dict "name" (printf "AVIARY_UPSTREAM_KEY_%s" (upper (replace "-" "_" .name))) "secret" .secret "key" .key) }}
{{- end }}
{{- end }}

{{/* OpenTelemetry traces: (dict "root" $ "service" "aviary-router"); nothing when tracing.endpoint is empty. */}}
{{- define "aviary.tracingEnv" -}}
{{- $t := .root.Values.tracing -}}
{{- if $t.endpoint -}}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $t.endpoint | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ .service | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ $t.sampler | quote }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ $t.samplerArg | toString | quote }}
{{- $attrs := list (printf "k8s.namespace.name=%s" .root.Release.Namespace) -}}
{{- range $k, $v := $t.resourceAttributes }}
{{- $attrs = append $attrs (printf "%s=%s" $k (toString $v)) -}}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attrs | quote }}
{{- end }}
{{- end -}}
