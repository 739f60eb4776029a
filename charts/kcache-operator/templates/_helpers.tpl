{{/* Name of the chart. */}}
{{- define "kcache-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: the release name, with the chart name unless it already holds it. */}}
{{- define "kcache-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kcache-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kcache-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kcache-operator.labels" -}}
{{ include "kcache-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "kcache-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kcache-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Rules for reconciling CacheClusters: only the verbs the operator uses. Objects
are written by server-side apply (patch, and create when the apply creates
them) and watched through list/watch. Owner references let the garbage
collector cascade deletions; the operator itself deletes only the budgets of a
cluster whose disruption.enabled was turned off.
*/}}
{{- define "kcache-operator.rules" -}}
# patch: removing the switchover-drill annotation once it has run.
- apiGroups: ["kcache.io"]
  resources: ["cacheclusters"]
  verbs: ["list", "watch", "patch"]
- apiGroups: ["kcache.io"]
  resources: ["cacheclusters/status"]
  verbs: ["patch"]
# Owner references with blockOwnerDeletion need update on the owner's finalizers.
- apiGroups: ["kcache.io"]
  resources: ["cacheclusters/finalizers"]
  verbs: ["update"]
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  verbs: ["list", "watch", "create", "patch"]
- apiGroups: [""]
  resources: ["services", "configmaps"]
  verbs: ["list", "watch", "create", "patch"]
# get: the password and TLS Secrets a CacheCluster names.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["list", "watch", "create", "patch", "deletecollection"]
# Pods: listed for status, watched to react to failures in seconds, patched
# for their role labels (which the primary and reader Services select).
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch", "patch"]
# Rolling updates go through the Eviction API, so PodDisruptionBudgets hold.
- apiGroups: [""]
  resources: ["pods/eviction"]
  verbs: ["create"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}
