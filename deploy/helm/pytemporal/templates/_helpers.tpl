{{/* Base name of every resource: <release>-pytemporal, or the overrides. */}}
{{- define "pytemporal.fullname" -}}
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

{{- define "pytemporal.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the server pods (never change them: selectors are immutable). */}}
{{- define "pytemporal.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pytemporal.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end -}}

{{- define "pytemporal.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "pytemporal.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "pytemporal.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "pytemporal.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "pytemporal.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "pytemporal.clusterSecretName" -}}
{{- default (printf "%s-cluster" (include "pytemporal.fullname" .)) .Values.cluster.secret.existingSecret -}}
{{- end -}}

{{/*
The database URL, refused when it carries a password: a password belongs in a Secret
(database.passwordSecret), never in a ConfigMap or a Job's command line.
*/}}
{{- define "pytemporal.databaseURL" -}}
{{- $url := required "database.url is required" .Values.database.url -}}
{{- if not (regexMatch "^postgres(ql)?://" $url) -}}
{{- fail "database.url: the chart runs PostgreSQL: expected postgresql://user@host:5432/db" -}}
{{- end -}}
{{- if regexMatch "^[a-z]+://[^/@]*:[^/@]*@" $url -}}
{{- fail "database.url must not contain a password: put it in a Secret and name it in database.passwordSecret" -}}
{{- end -}}
{{- $url -}}
{{- end -}}

{{/* PGPASSWORD from the database Secret (asyncpg reads it when the URL has no password). */}}
{{- define "pytemporal.databasePasswordEnv" -}}
{{- if .Values.database.passwordSecret.name }}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.passwordSecret.name }}
      key: {{ .Values.database.passwordSecret.key }}
{{- end }}
{{- end -}}

{{/* The server's config file (`pytemporal server start --config`), keys as in docs/pytemporal.example.yaml. */}}
{{- define "pytemporal.config" -}}
{{- $tlsDir := "/etc/pytemporal/tls" -}}
{{- $config := dict
  "persistence" (dict "database_url" (include "pytemporal.databaseURL" .) "pool_size" (int .Values.database.poolSize))
  "listen" (dict "ip" "0.0.0.0" "port" (int .Values.ports.grpc))
  "cluster" (dict "ip" "0.0.0.0" "port" (int .Values.ports.internode))
  "http" (dict "ip" "0.0.0.0" "port" (int .Values.ports.http))
  "ui" (dict "enabled" .Values.ui.enabled "ip" "0.0.0.0" "port" (int .Values.ports.ui))
  "metrics" (dict "ip" "0.0.0.0" "port" (int .Values.ports.metrics))
  "num_history_shards" (int .Values.server.numHistoryShards)
  "log_level" .Values.server.logLevel
  "log_format" .Values.server.logFormat
-}}
{{- with .Values.server.namespaces }}{{ $_ := set $config "namespaces" . }}{{ end -}}
{{- with .Values.server.searchAttributes }}{{ $_ := set $config "search_attributes" . }}{{ end -}}
{{- with .Values.server.dynamicConfig }}{{ $_ := set $config "dynamic_config" . }}{{ end -}}
{{- with .Values.server.authorization }}{{ $_ := set $config "authorization" . }}{{ end -}}
{{- $tls := dict -}}
{{- if .Values.tls.frontend.enabled -}}
{{- $server := dict "certFile" (printf "%s/frontend/tls.crt" $tlsDir) "keyFile" (printf "%s/frontend/tls.key" $tlsDir) -}}
{{- if .Values.tls.frontend.requireClientAuth -}}
{{- $_ := set $server "requireClientAuth" true -}}
{{- $_ := set $server "clientCaFiles" (list (printf "%s/frontend/%s" $tlsDir .Values.tls.frontend.caKey)) -}}
{{- end -}}
{{- $_ := set $tls "frontend" (dict "server" $server) -}}
{{- end -}}
{{- if .Values.tls.internode.enabled -}}
{{- $ca := printf "%s/internode/%s" $tlsDir .Values.tls.internode.caKey -}}
{{- $server := dict "certFile" (printf "%s/internode/tls.crt" $tlsDir) "keyFile" (printf "%s/internode/tls.key" $tlsDir) "clientCaFiles" (list $ca) -}}
{{- $client := dict "rootCaFiles" (list $ca) "serverName" (required "tls.internode.serverName is required: peers are dialled by pod IP and check this name in the certificate" .Values.tls.internode.serverName) -}}
{{- $_ := set $tls "internode" (dict "server" $server "client" $client) -}}
{{- end -}}
{{- with $tls }}{{ $_ := set $config "tls" . }}{{ end -}}
{{- toYaml $config -}}
{{- end -}}
