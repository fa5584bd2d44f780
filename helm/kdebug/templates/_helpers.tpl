{{/* Names ------------------------------------------------------------------------------------- */}}

{{- define "kdebug.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kdebug.fullname" -}}
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

{{/* <fullname>-<suffix>, kept within 63 characters. */}}
{{- define "kdebug.componentName" -}}
{{- printf "%s-%s" (include "kdebug.fullname" .root | trunc (int (sub 62 (len .component))) | trimSuffix "-") .component }}
{{- end }}

{{- define "kdebug.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels: call with (dict "root" $ "component" "bot") ------------------------------------------- */}}

{{- define "kdebug.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kdebug.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "kdebug.labels" -}}
helm.sh/chart: {{ include "kdebug.chart" .root }}
{{ include "kdebug.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: kdebug
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Image ----------------------------------------------------------------------------------------- */}}

{{- define "kdebug.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Service accounts ------------------------------------------------------------------------------ */}}

{{- define "kdebug.botServiceAccountName" -}}
{{- if .Values.serviceAccount.bot.create }}
{{- default (include "kdebug.componentName" (dict "root" . "component" "bot")) .Values.serviceAccount.bot.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.bot.name }}
{{- end }}
{{- end }}

{{- define "kdebug.workerServiceAccountName" -}}
{{- if .Values.serviceAccount.worker.create }}
{{- default (include "kdebug.componentName" (dict "root" . "component" "worker")) .Values.serviceAccount.worker.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.worker.name }}
{{- end }}
{{- end }}

{{/* Roles ------------------------------------------------------------------------------------------ */}}

{{/*
"true" when this release runs the bot (bot.enabled, default true); "" for the worker-only form, a
cluster's worker that reaches the one bot through the shared Redis. An absent bot.enabled counts as
true, so `helm upgrade --reuse-values` of a release made before the value existed keeps its bot.
*/}}
{{- define "kdebug.botEnabled" -}}
{{- if not (eq (dig "enabled" true (.Values.bot | default dict)) false) }}true{{ end }}
{{- end }}

{{/* The components this release runs: bot and worker, or the worker alone. */}}
{{- define "kdebug.components" -}}
{{- if eq (include "kdebug.botEnabled" .) "true" }}["bot", "worker"]{{ else }}["worker"]{{ end }}
{{- end }}

{{/* The cluster a worker serves (config.cluster.name, kdebug's default "default"). */}}
{{- define "kdebug.clusterName" -}}
{{- dig "cluster" "name" "default" (.Values.config | default dict) }}
{{- end }}

{{/* The BullMQ queue that cluster's worker takes its jobs from (src/queue/job.ts queueNameFor). */}}
{{- define "kdebug.queueName" -}}
{{- $cluster := include "kdebug.clusterName" . }}
{{- if eq $cluster "default" }}diagnostics{{ else }}{{ printf "diagnostics-%s" $cluster }}{{ end }}
{{- end }}

{{/* Slack credentials ----------------------------------------------------------------------------- */}}

{{/* true when the chart renders the Slack Secret from values (never without the bot: no token in a worker-only install). */}}
{{- define "kdebug.slackSecretFromValues" -}}
{{- if and (eq (include "kdebug.botEnabled" .) "true") (not .Values.slack.existingSecret) (or .Values.slack.botToken .Values.slack.appToken .Values.slack.signingSecret) }}true{{ end }}
{{- end }}

{{/* The Secret the pods read: existingSecret, else <fullname>-slack (rendered from values, or to be created by you). */}}
{{- define "kdebug.slackSecretName" -}}
{{- default (include "kdebug.componentName" (dict "root" . "component" "slack")) .Values.slack.existingSecret }}
{{- end }}

{{/* The Slack credentials of one component; none at all in a worker-only install (the bot delivers its answers). */}}
{{- define "kdebug.slackEnv" -}}
{{- if eq (include "kdebug.botEnabled" .root) "true" }}
{{- $secret := include "kdebug.slackSecretName" .root }}
{{- $keys := .root.Values.slack.existingSecretKeys }}
- name: SLACK_BOT_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $keys.botToken }}
{{- if eq .component "bot" }}
{{- if eq .root.Values.slack.mode "socket" }}
- name: SLACK_APP_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $keys.appToken }}
{{- else }}
- name: SLACK_SIGNING_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $keys.signingSecret }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* Redis ------------------------------------------------------------------------------------------ */}}

{{- define "kdebug.redisHost" -}}
{{- printf "%s.%s.svc" (include "kdebug.componentName" (dict "root" . "component" "redis")) .Release.Namespace }}
{{- end }}

{{/*
REDIS_PASSWORD (from a Secret) and then REDIS_URL. The URL refers to the password as $(REDIS_PASSWORD):
Kubernetes expands it when it starts the container, so the password is never in the pod spec or a
ConfigMap. REDIS_PASSWORD must come first: $(VAR) only expands variables defined earlier in the list.
*/}}
{{- define "kdebug.redisEnv" -}}
{{- $r := .Values.redis }}
{{- if $r.bundled.enabled }}
{{- if $r.bundled.auth.existingSecret }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $r.bundled.auth.existingSecret }}
      key: {{ $r.bundled.auth.passwordKey }}
- name: REDIS_URL
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s:6379" (include "kdebug.redisHost" .) | quote }}
{{- else }}
- name: REDIS_URL
  value: {{ printf "redis://%s:6379" (include "kdebug.redisHost" .) | quote }}
{{- end }}
{{- else if $r.external.urlFromSecret.name }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $r.external.urlFromSecret.name }}
      key: {{ required "redis.external.urlFromSecret.key is required with redis.external.urlFromSecret.name" $r.external.urlFromSecret.key }}
{{- else }}
{{- $u := urlParse $r.external.url }}
{{- $rest := printf "%s%s" $u.host $u.path }}
{{- if $u.query }}{{ $rest = printf "%s?%s" $rest $u.query }}{{ end }}
{{- if $r.external.existingSecret }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $r.external.existingSecret }}
      key: {{ $r.external.passwordKey }}
- name: REDIS_URL
  value: {{ printf "%s://%s:$(REDIS_PASSWORD)@%s" $u.scheme $r.external.username $rest | quote }}
{{- else }}
- name: REDIS_URL
  value: {{ $r.external.url | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Checks that values fit together; fails the render with one line saying what to change. */}}
{{- define "kdebug.validate" -}}
{{- $r := .Values.redis }}
{{- $external := or $r.external.url $r.external.urlFromSecret.name }}
{{- if ne (include "kdebug.botEnabled" .) "true" }}
{{- include "kdebug.validateWorkerOnly" . }}
{{- end }}
{{- if and $r.bundled.enabled $external }}
{{- fail "redis: set either redis.bundled.enabled=true or redis.external.url / redis.external.urlFromSecret, not both" }}
{{- end }}
{{- if not (or $r.bundled.enabled $external) }}
{{- fail "redis: set redis.external.url (or redis.external.urlFromSecret), or redis.bundled.enabled=true" }}
{{- end }}
{{- if and $r.external.url (not $r.bundled.enabled) (not $r.external.urlFromSecret.name) }}
{{- $u := urlParse $r.external.url }}
{{- if not (has $u.scheme (list "redis" "rediss")) }}
{{- fail (printf "redis.external.url must start with redis:// or rediss:// (got %q)" $r.external.url) }}
{{- end }}
{{- if and $r.external.username (not $r.external.existingSecret) }}
{{- fail "redis.external.username needs redis.external.existingSecret (the user's password)" }}
{{- end }}
{{- if contains "@" $r.external.url }}
{{- fail "redis.external.url must not contain credentials: put the password in a Secret (redis.external.existingSecret) or the whole URL in a Secret (redis.external.urlFromSecret)" }}
{{- end }}
{{- end }}
{{- if and .Values.slack.http.ingress.enabled (ne .Values.slack.mode "http") }}
{{- fail "slack.http.ingress.enabled needs slack.mode=http (Socket Mode needs no ingress)" }}
{{- end }}
{{- if eq (include "kdebug.slackSecretFromValues" .) "true" }}
{{- if not .Values.slack.botToken }}
{{- fail "slack.botToken is required when the Slack credentials are given as values (or use slack.existingSecret)" }}
{{- end }}
{{- if and (eq .Values.slack.mode "socket") (not .Values.slack.appToken) }}
{{- fail "slack.appToken (xapp-…) is required in Socket Mode when the Slack credentials are given as values" }}
{{- end }}
{{- if and (eq .Values.slack.mode "http") (not .Values.slack.signingSecret) }}
{{- fail "slack.signingSecret is required in HTTP mode when the Slack credentials are given as values" }}
{{- end }}
{{- end }}
{{- if and .Values.policy.enabled (empty .Values.policy.content) }}
{{- fail "policy.content is required with policy.enabled=true (the policy file's content; format in config/policy.yaml)" }}
{{- end }}
{{- $grace := dig "shutdown" "graceSeconds" 45 (.Values.config | default dict) }}
{{- if ge (int $grace) (int .Values.terminationGracePeriodSeconds) }}
{{- fail (printf "config.shutdown.graceSeconds (%v) must be below terminationGracePeriodSeconds (%v), or Kubernetes kills the worker before it can hand its jobs back" $grace .Values.terminationGracePeriodSeconds) }}
{{- end }}
{{- if eq (int .Values.health.port) (int .Values.slack.http.port) }}
{{- fail "health.port and slack.http.port must differ" }}
{{- end }}
{{- end }}

{{/*
bot.enabled=false: this cluster's worker, serving the bot of another release through their shared
Redis. Refuses what would quietly not work: a Redis of its own (the bot would never see its queue),
no cluster name (it would serve cluster "default" and take jobs meant for another worker), and Slack credentials or
settings that only the bot uses (the point of this form is that the cluster holds no Slack token).
*/}}
{{- define "kdebug.validateWorkerOnly" -}}
{{- $r := .Values.redis }}
{{- if $r.bundled.enabled }}
{{- fail "bot.enabled=false installs a worker for the bot of another release, which it reaches only through that bot's Redis: set redis.bundled.enabled=false and redis.external.url (or redis.external.urlFromSecret) to the Redis the bot uses" }}
{{- end }}
{{- if eq (include "kdebug.clusterName" .) "default" }}
{{- fail "bot.enabled=false needs config.cluster.name (e.g. prod-eu): the name the bot knows this cluster by and picks it with (--cluster NAME); without it the worker serves cluster \"default\" and takes jobs meant for another worker" }}
{{- end }}
{{- if or .Values.slack.existingSecret .Values.slack.botToken .Values.slack.appToken .Values.slack.signingSecret }}
{{- fail "bot.enabled=false installs a worker without Slack credentials (the bot delivers its answers): unset slack.existingSecret, slack.botToken, slack.appToken and slack.signingSecret" }}
{{- end }}
{{- if .Values.slack.http.ingress.enabled }}
{{- fail "slack.http.ingress.enabled needs the bot (bot.enabled=true): a worker-only install has nothing for Slack to reach" }}
{{- end }}
{{- if .Values.policy.enabled }}
{{- fail "policy.enabled=true has no effect with bot.enabled=false: the bot checks every request against its own policy; set the rule in the bot's release (a rule's clusters: field limits it to some clusters)" }}
{{- end }}
{{- end }}

{{/* Pod template parts: call with (dict "root" $ "component" "bot"|"worker") ------------------------ */}}

{{- define "kdebug.podAnnotations" -}}
checksum/config: {{ include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum }}
{{- if eq (include "kdebug.slackSecretFromValues" .root) "true" }}
checksum/slack-secret: {{ include (print .root.Template.BasePath "/secret.yaml") .root | sha256sum }}
{{- end }}
{{- with (index .root.Values .component).podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "kdebug.commonEnv" -}}
- name: KDEBUG_CONFIG
  value: /etc/kdebug/config/kdebug.yaml
- name: KDEBUG_HEALTH_PORT
  value: {{ .root.Values.health.port | quote }}
{{- if .root.Values.policy.enabled }}
- name: KDEBUG_POLICY_PATH
  value: /etc/kdebug/policy/policy.yaml
{{- end }}
{{ include "kdebug.redisEnv" .root | trim }}
{{ include "kdebug.slackEnv" . | trim }}
{{- with (index .root.Values .component).extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "kdebug.probes" -}}
{{- $h := .root.Values.health }}
{{- with $h.livenessProbe }}
{{- if .enabled }}
livenessProbe:
  httpGet:
    path: /healthz
    port: health
  initialDelaySeconds: {{ .initialDelaySeconds }}
  periodSeconds: {{ .periodSeconds }}
  timeoutSeconds: {{ .timeoutSeconds }}
  failureThreshold: {{ .failureThreshold }}
{{- end }}
{{- end }}
{{- with $h.readinessProbe }}
{{- if .enabled }}
readinessProbe:
  httpGet:
    path: /readyz
    port: health
  initialDelaySeconds: {{ .initialDelaySeconds }}
  periodSeconds: {{ .periodSeconds }}
  timeoutSeconds: {{ .timeoutSeconds }}
  failureThreshold: {{ .failureThreshold }}
{{- end }}
{{- end }}
{{- end }}

{{- define "kdebug.volumeMounts" -}}
- name: config
  mountPath: /etc/kdebug/config
  readOnly: true
{{- if .root.Values.policy.enabled }}
- name: policy
  mountPath: /etc/kdebug/policy
  readOnly: true
{{- end }}
- name: tmp
  mountPath: /tmp
{{- end }}

{{- define "kdebug.volumes" -}}
- name: config
  configMap:
    name: {{ include "kdebug.componentName" (dict "root" .root "component" "config") }}
{{- if .root.Values.policy.enabled }}
- name: policy
  configMap:
    name: {{ include "kdebug.componentName" (dict "root" .root "component" "policy") }}
{{- end }}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end }}

{{/* Scheduling: nodeSelector, tolerations, affinity, topologySpreadConstraints, priorityClassName of one component. */}}
{{- define "kdebug.scheduling" -}}
{{- $c := index .root.Values .component }}
{{- with $c.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $c.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $c.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
