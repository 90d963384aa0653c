{{/* Names and labels shared by the templates. */}}
{{- define "runner.name" -}}
{{ default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "runner.fullname" -}}
{{ default (printf "%s-%s" .Release.Name (include "runner.name" .)) .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "runner.selectorLabels" -}}
app.kubernetes.io/name: {{ include "runner.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "runner.labels" -}}
{{ include "runner.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{- define "runner.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ default (include "runner.fullname" .) .Values.serviceAccount.name }}
{{- else -}}
{{ default "default" .Values.serviceAccount.name }}
{{- end -}}
{{- end }}

{{- define "runner.tokenSecretName" -}}
{{ default (include "runner.fullname" .) .Values.token.existingSecret }}
{{- end }}
