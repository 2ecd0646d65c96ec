{{/* Names ------------------------------------------------------------------------------ */}}

{{- define "todo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "todo.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "todo.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* A function's resource name: todo.fnFullname (dict "root" $ "name" "create-task") */}}
{{- define "todo.fnFullname" -}}
{{- printf "%s-%s" (include "todo.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "todo.labels" -}}
helm.sh/chart: {{ include "todo.chart" . }}
{{ include "todo.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ include "todo.name" . }}
{{- end }}

{{- define "todo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "todo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one function's objects: todo.fnLabels (dict "root" $ "name" NAME) */}}
{{- define "todo.fnLabels" -}}
{{ include "todo.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "todo.fnSelectorLabels" -}}
{{ include "todo.selectorLabels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/* Image and secrets ------------------------------------------------------------------- */}}

{{- define "todo.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret holding the app token (key "token") that daprd sends and the app checks. */}}
{{- define "todo.appTokenSecret" -}}
{{- default (printf "%s-app-token" (include "todo.fullname" .)) .Values.appToken.existingSecret }}
{{- end }}

{{- define "todo.daprConfigName" -}}
{{- printf "%s-dapr" (include "todo.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Functions ---------------------------------------------------------------------------- */}}

{{/* The enabled functions, each over .Values.defaults, as a JSON map name -> settings:
     range $name, $fn := include "todo.functions" $ | fromJson */}}
{{- define "todo.functions" -}}
{{- $out := dict }}
{{- range $name, $entry := .Values.functions }}
{{- $e := default dict $entry }}
{{- if ne (toString (dig "enabled" true $e)) "false" }}
{{- $fn := mergeOverwrite (deepCopy $.Values.defaults) (deepCopy $e) }}
{{- /* extraEnv adds to the defaults' (a list would replace them); the function's wins by name. */}}
{{- $own := default list $e.extraEnv }}
{{- $names := list }}
{{- range $own }}{{ $names = append $names .name }}{{ end }}
{{- $env := list }}
{{- range (default list $.Values.defaults.extraEnv) }}
{{- if not (has .name $names) }}{{ $env = append $env . }}{{ end }}
{{- end }}
{{- $_ := set $fn "extraEnv" (concat $env $own) }}
{{- $_ := set $out $name $fn }}
{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/* The pub/sub component a function uses (PUBSUB_NAME). */}}
{{- define "todo.fnPubsub" -}}
{{- default "pubsub" .fn.pubsubName }}
{{- end }}

{{/* "true" when a function consumes the shared `pubsub` component, whose consumer group is
     its app id: its lag can drive it. */}}
{{- define "todo.isConsumer" -}}
{{- $c := false }}
{{- range (default list .fn.subscriptions) }}
{{- if eq (default "pubsub" .pubsub) "pubsub" }}{{ $c = true }}{{ end }}
{{- end }}
{{- if $c }}true{{ end }}
{{- end }}

{{/* How a function scales: fixed | keda (ScaledObject on Kafka lag, plus the HTTP add-on's
     trigger when it also serves routes and the add-on is there) | http-addon
     (HTTPScaledObject) | hpa. todo.scaling (dict "root" $ "name" NAME "fn" SETTINGS) */}}
{{- define "todo.scaling" -}}
{{- $v := .root.Values }}
{{- $mode := default "auto" (dig "scaling" "mode" "auto" .fn) }}
{{- if eq $mode "fixed" }}fixed
{{- else if and $v.keda.enabled $v.dapr.enabled (include "todo.isConsumer" .) }}keda
{{- else if and .fn.routes (include "todo.httpAddon" .root) }}http-addon
{{- else }}hpa
{{- end }}
{{- end }}

{{/* "true" when HTTP functions scale through the KEDA HTTP add-on. */}}
{{- define "todo.httpAddon" -}}
{{- if and .Values.keda.enabled .Values.keda.http.enabled (.Capabilities.APIVersions.Has "http.keda.sh/v1alpha1/HTTPScaledObject") }}true{{ end }}
{{- end }}

{{/* The Host the gateway gives a function's requests, for the add-on's interceptor to route on. */}}
{{- define "todo.fnHost" -}}
{{- printf "%s.%s" (include "todo.fnFullname" .) .root.Release.Namespace }}
{{- end }}

{{/* An API path template (/api/{user_id}/tasks/{id}) as an anchored RE2 regular expression:
     each {x} matches one path segment. */}}
{{- define "todo.pathRegex" -}}
{{- printf "^%s$" (regexReplaceAll "\\{[^/{}]+\\}" (regexReplaceAll "([.+*?()|\\[\\]^$])" . "\\${1}") "[^/]+") }}
{{- end }}

{{/* Kafka: the brokers' env var for KEDA (bootstrapServersFromEnv) when they come from a Secret. */}}
{{- define "todo.kafkaBrokersFromSecret" -}}
{{- if not .Values.kafka.brokers }}true{{ end }}
{{- end }}

{{/* KEDA's name for the SASL mechanism. */}}
{{- define "todo.kedaSasl" -}}
{{- $m := .Values.kafka.auth.mechanism }}
{{- if eq $m "SCRAM-SHA-512" }}scram_sha512{{ else if eq $m "PLAINTEXT" }}plaintext{{ else }}scram_sha256{{ end }}
{{- end }}

{{/* The Secrets the functions may read through the Dapr secret store, as a JSON array. */}}
{{- define "todo.readableSecrets" -}}
{{- $s := list .Values.credentials.existingSecret }}
{{- with .Values.kafka.existingSecret }}{{ $s = append $s . }}{{ end }}
{{- toJson (uniq $s) }}
{{- end }}
