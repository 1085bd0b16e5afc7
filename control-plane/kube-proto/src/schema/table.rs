//! The schema table: every message reachable from the supported kinds, one entry per
//! field. Field numbers and names follow the Kubernetes generated.proto files; the
//! shape of each field (omitempty, pointer, inline) follows the Go types' json tags.

use super::Kind::*;
use super::{always, inline, keep, map, msg, omit, one, rep, rep_or_null, Message};

static APPS_V1_CONTROLLER_REVISION: Message = msg(
    "apps/v1.ControllerRevision",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "data", RawJson),
        always(3, "revision", I64),
    ],
);
static APPS_V1_DAEMON_SET: Message = msg(
    "apps/v1.DaemonSet",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "spec", Msg(&APPS_V1_DAEMON_SET_SPEC)),
        one(3, "status", Msg(&APPS_V1_DAEMON_SET_STATUS)),
    ],
);
static APPS_V1_DAEMON_SET_CONDITION: Message = msg(
    "apps/v1.DaemonSetCondition",
    &[
        always(1, "type", Str),
        always(2, "status", Str),
        one(3, "lastTransitionTime", Time),
        omit(4, "reason", Str),
        omit(5, "message", Str),
    ],
);
static APPS_V1_DAEMON_SET_LIST: Message = msg(
    "apps/v1.DaemonSetList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&APPS_V1_DAEMON_SET)),
    ],
);
static APPS_V1_DAEMON_SET_SPEC: Message = msg(
    "apps/v1.DaemonSetSpec",
    &[
        one(1, "selector", Msg(&META_V1_LABEL_SELECTOR)),
        one(2, "template", Msg(&CORE_V1_POD_TEMPLATE_SPEC)),
        one(
            3,
            "updateStrategy",
            Msg(&APPS_V1_DAEMON_SET_UPDATE_STRATEGY),
        ),
        omit(4, "minReadySeconds", I32),
        keep(6, "revisionHistoryLimit", I32),
    ],
);
static APPS_V1_DAEMON_SET_STATUS: Message = msg(
    "apps/v1.DaemonSetStatus",
    &[
        always(1, "currentNumberScheduled", I32),
        always(2, "numberMisscheduled", I32),
        always(3, "desiredNumberScheduled", I32),
        always(4, "numberReady", I32),
        omit(5, "observedGeneration", I64),
        omit(6, "updatedNumberScheduled", I32),
        omit(7, "numberAvailable", I32),
        omit(8, "numberUnavailable", I32),
        keep(9, "collisionCount", I32),
        rep(10, "conditions", Msg(&APPS_V1_DAEMON_SET_CONDITION)),
    ],
);
static APPS_V1_DAEMON_SET_UPDATE_STRATEGY: Message = msg(
    "apps/v1.DaemonSetUpdateStrategy",
    &[
        omit(1, "type", Str),
        one(2, "rollingUpdate", Msg(&APPS_V1_ROLLING_UPDATE_DAEMON_SET)),
    ],
);
static APPS_V1_DEPLOYMENT: Message = msg(
    "apps/v1.Deployment",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "spec", Msg(&APPS_V1_DEPLOYMENT_SPEC)),
        one(3, "status", Msg(&APPS_V1_DEPLOYMENT_STATUS)),
    ],
);
static APPS_V1_DEPLOYMENT_CONDITION: Message = msg(
    "apps/v1.DeploymentCondition",
    &[
        always(1, "type", Str),
        always(2, "status", Str),
        one(6, "lastUpdateTime", Time),
        one(7, "lastTransitionTime", Time),
        omit(4, "reason", Str),
        omit(5, "message", Str),
    ],
);
static APPS_V1_DEPLOYMENT_LIST: Message = msg(
    "apps/v1.DeploymentList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&APPS_V1_DEPLOYMENT)),
    ],
);
static APPS_V1_DEPLOYMENT_SPEC: Message = msg(
    "apps/v1.DeploymentSpec",
    &[
        keep(1, "replicas", I32),
        one(2, "selector", Msg(&META_V1_LABEL_SELECTOR)),
        one(3, "template", Msg(&CORE_V1_POD_TEMPLATE_SPEC)),
        one(4, "strategy", Msg(&APPS_V1_DEPLOYMENT_STRATEGY)),
        omit(5, "minReadySeconds", I32),
        keep(6, "revisionHistoryLimit", I32),
        omit(7, "paused", Bool),
        keep(9, "progressDeadlineSeconds", I32),
    ],
);
static APPS_V1_DEPLOYMENT_STATUS: Message = msg(
    "apps/v1.DeploymentStatus",
    &[
        omit(1, "observedGeneration", I64),
        omit(2, "replicas", I32),
        omit(3, "updatedReplicas", I32),
        omit(7, "readyReplicas", I32),
        omit(4, "availableReplicas", I32),
        omit(5, "unavailableReplicas", I32),
        keep(9, "terminatingReplicas", I32),
        rep(6, "conditions", Msg(&APPS_V1_DEPLOYMENT_CONDITION)),
        keep(8, "collisionCount", I32),
    ],
);
static APPS_V1_DEPLOYMENT_STRATEGY: Message = msg(
    "apps/v1.DeploymentStrategy",
    &[
        omit(1, "type", Str),
        one(2, "rollingUpdate", Msg(&APPS_V1_ROLLING_UPDATE_DEPLOYMENT)),
    ],
);
static APPS_V1_REPLICA_SET: Message = msg(
    "apps/v1.ReplicaSet",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "spec", Msg(&APPS_V1_REPLICA_SET_SPEC)),
        one(3, "status", Msg(&APPS_V1_REPLICA_SET_STATUS)),
    ],
);
static APPS_V1_REPLICA_SET_CONDITION: Message = msg(
    "apps/v1.ReplicaSetCondition",
    &[
        always(1, "type", Str),
        always(2, "status", Str),
        one(3, "lastTransitionTime", Time),
        omit(4, "reason", Str),
        omit(5, "message", Str),
    ],
);
static APPS_V1_REPLICA_SET_LIST: Message = msg(
    "apps/v1.ReplicaSetList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&APPS_V1_REPLICA_SET)),
    ],
);
static APPS_V1_REPLICA_SET_SPEC: Message = msg(
    "apps/v1.ReplicaSetSpec",
    &[
        keep(1, "replicas", I32),
        omit(4, "minReadySeconds", I32),
        one(2, "selector", Msg(&META_V1_LABEL_SELECTOR)),
        one(3, "template", Msg(&CORE_V1_POD_TEMPLATE_SPEC)),
    ],
);
static APPS_V1_REPLICA_SET_STATUS: Message = msg(
    "apps/v1.ReplicaSetStatus",
    &[
        always(1, "replicas", I32),
        omit(2, "fullyLabeledReplicas", I32),
        omit(4, "readyReplicas", I32),
        omit(5, "availableReplicas", I32),
        keep(7, "terminatingReplicas", I32),
        omit(3, "observedGeneration", I64),
        rep(6, "conditions", Msg(&APPS_V1_REPLICA_SET_CONDITION)),
    ],
);
static APPS_V1_ROLLING_UPDATE_DAEMON_SET: Message = msg(
    "apps/v1.RollingUpdateDaemonSet",
    &[
        one(1, "maxUnavailable", IntOrString),
        one(2, "maxSurge", IntOrString),
    ],
);
static APPS_V1_ROLLING_UPDATE_DEPLOYMENT: Message = msg(
    "apps/v1.RollingUpdateDeployment",
    &[
        one(1, "maxUnavailable", IntOrString),
        one(2, "maxSurge", IntOrString),
    ],
);
static APPS_V1_ROLLING_UPDATE_STATEFUL_SET_STRATEGY: Message = msg(
    "apps/v1.RollingUpdateStatefulSetStrategy",
    &[
        keep(1, "partition", I32),
        one(2, "maxUnavailable", IntOrString),
    ],
);
static APPS_V1_STATEFUL_SET: Message = msg(
    "apps/v1.StatefulSet",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "spec", Msg(&APPS_V1_STATEFUL_SET_SPEC)),
        one(3, "status", Msg(&APPS_V1_STATEFUL_SET_STATUS)),
    ],
);
static APPS_V1_STATEFUL_SET_CONDITION: Message = msg(
    "apps/v1.StatefulSetCondition",
    &[
        always(1, "type", Str),
        always(2, "status", Str),
        one(3, "lastTransitionTime", Time),
        omit(4, "reason", Str),
        omit(5, "message", Str),
    ],
);
static APPS_V1_STATEFUL_SET_LIST: Message = msg(
    "apps/v1.StatefulSetList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&APPS_V1_STATEFUL_SET)),
    ],
);
static APPS_V1_STATEFUL_SET_ORDINALS: Message =
    msg("apps/v1.StatefulSetOrdinals", &[always(1, "start", I32)]);
static APPS_V1_STATEFUL_SET_PERSISTENT_VOLUME_CLAIM_RETENTION_POLICY: Message = msg(
    "apps/v1.StatefulSetPersistentVolumeClaimRetentionPolicy",
    &[omit(1, "whenDeleted", Str), omit(2, "whenScaled", Str)],
);
static APPS_V1_STATEFUL_SET_SPEC: Message = msg(
    "apps/v1.StatefulSetSpec",
    &[
        keep(1, "replicas", I32),
        one(2, "selector", Msg(&META_V1_LABEL_SELECTOR)),
        one(3, "template", Msg(&CORE_V1_POD_TEMPLATE_SPEC)),
        rep(
            4,
            "volumeClaimTemplates",
            Msg(&CORE_V1_PERSISTENT_VOLUME_CLAIM),
        ),
        always(5, "serviceName", Str),
        omit(6, "podManagementPolicy", Str),
        one(
            7,
            "updateStrategy",
            Msg(&APPS_V1_STATEFUL_SET_UPDATE_STRATEGY),
        ),
        keep(8, "revisionHistoryLimit", I32),
        omit(9, "minReadySeconds", I32),
        one(
            10,
            "persistentVolumeClaimRetentionPolicy",
            Msg(&APPS_V1_STATEFUL_SET_PERSISTENT_VOLUME_CLAIM_RETENTION_POLICY),
        ),
        one(11, "ordinals", Msg(&APPS_V1_STATEFUL_SET_ORDINALS)),
    ],
);
static APPS_V1_STATEFUL_SET_STATUS: Message = msg(
    "apps/v1.StatefulSetStatus",
    &[
        omit(1, "observedGeneration", I64),
        always(2, "replicas", I32),
        omit(3, "readyReplicas", I32),
        omit(4, "currentReplicas", I32),
        omit(5, "updatedReplicas", I32),
        omit(6, "currentRevision", Str),
        omit(7, "updateRevision", Str),
        keep(9, "collisionCount", I32),
        rep(10, "conditions", Msg(&APPS_V1_STATEFUL_SET_CONDITION)),
        always(11, "availableReplicas", I32),
    ],
);
static APPS_V1_STATEFUL_SET_UPDATE_STRATEGY: Message = msg(
    "apps/v1.StatefulSetUpdateStrategy",
    &[
        omit(1, "type", Str),
        one(
            2,
            "rollingUpdate",
            Msg(&APPS_V1_ROLLING_UPDATE_STATEFUL_SET_STRATEGY),
        ),
    ],
);
static AUTHENTICATION_V1_BOUND_OBJECT_REFERENCE: Message = msg(
    "authentication/v1.BoundObjectReference",
    &[
        omit(1, "kind", Str),
        omit(2, "apiVersion", Str),
        omit(3, "name", Str),
        omit(4, "uid", Str),
    ],
);
static AUTHENTICATION_V1_SELF_SUBJECT_REVIEW: Message = msg(
    "authentication/v1.SelfSubjectReview",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(
            2,
            "status",
            Msg(&AUTHENTICATION_V1_SELF_SUBJECT_REVIEW_STATUS),
        ),
    ],
);
static AUTHENTICATION_V1_SELF_SUBJECT_REVIEW_STATUS: Message = msg(
    "authentication/v1.SelfSubjectReviewStatus",
    &[one(1, "userInfo", Msg(&AUTHENTICATION_V1_USER_INFO))],
);
static AUTHENTICATION_V1_TOKEN_REQUEST: Message = msg(
    "authentication/v1.TokenRequest",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "spec", Msg(&AUTHENTICATION_V1_TOKEN_REQUEST_SPEC)),
        one(3, "status", Msg(&AUTHENTICATION_V1_TOKEN_REQUEST_STATUS)),
    ],
);
static AUTHENTICATION_V1_TOKEN_REQUEST_SPEC: Message = msg(
    "authentication/v1.TokenRequestSpec",
    &[
        rep_or_null(1, "audiences", Str),
        keep(4, "expirationSeconds", I64),
        one(
            3,
            "boundObjectRef",
            Msg(&AUTHENTICATION_V1_BOUND_OBJECT_REFERENCE),
        ),
        map(5, "attestations", StrList),
    ],
);
static AUTHENTICATION_V1_TOKEN_REQUEST_STATUS: Message = msg(
    "authentication/v1.TokenRequestStatus",
    &[always(1, "token", Str), one(2, "expirationTimestamp", Time)],
);
static AUTHENTICATION_V1_TOKEN_REVIEW: Message = msg(
    "authentication/v1.TokenReview",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "spec", Msg(&AUTHENTICATION_V1_TOKEN_REVIEW_SPEC)),
        one(3, "status", Msg(&AUTHENTICATION_V1_TOKEN_REVIEW_STATUS)),
    ],
);
static AUTHENTICATION_V1_TOKEN_REVIEW_SPEC: Message = msg(
    "authentication/v1.TokenReviewSpec",
    &[omit(1, "token", Str), rep(2, "audiences", Str)],
);
static AUTHENTICATION_V1_TOKEN_REVIEW_STATUS: Message = msg(
    "authentication/v1.TokenReviewStatus",
    &[
        omit(1, "authenticated", Bool),
        one(2, "user", Msg(&AUTHENTICATION_V1_USER_INFO)),
        rep(4, "audiences", Str),
        omit(3, "error", Str),
    ],
);
static AUTHENTICATION_V1_USER_INFO: Message = msg(
    "authentication/v1.UserInfo",
    &[
        omit(1, "username", Str),
        omit(2, "uid", Str),
        rep(3, "groups", Str),
        map(4, "extra", StrList),
    ],
);
static AUTHORIZATION_V1_FIELD_SELECTOR_ATTRIBUTES: Message = msg(
    "authorization/v1.FieldSelectorAttributes",
    &[
        omit(1, "rawSelector", Str),
        rep(2, "requirements", Msg(&META_V1_FIELD_SELECTOR_REQUIREMENT)),
    ],
);
static AUTHORIZATION_V1_LABEL_SELECTOR_ATTRIBUTES: Message = msg(
    "authorization/v1.LabelSelectorAttributes",
    &[
        omit(1, "rawSelector", Str),
        rep(2, "requirements", Msg(&META_V1_LABEL_SELECTOR_REQUIREMENT)),
    ],
);
static AUTHORIZATION_V1_NON_RESOURCE_ATTRIBUTES: Message = msg(
    "authorization/v1.NonResourceAttributes",
    &[omit(1, "path", Str), omit(2, "verb", Str)],
);
static AUTHORIZATION_V1_NON_RESOURCE_RULE: Message = msg(
    "authorization/v1.NonResourceRule",
    &[rep_or_null(1, "verbs", Str), rep(2, "nonResourceURLs", Str)],
);
static AUTHORIZATION_V1_RESOURCE_ATTRIBUTES: Message = msg(
    "authorization/v1.ResourceAttributes",
    &[
        omit(1, "namespace", Str),
        omit(2, "verb", Str),
        omit(3, "group", Str),
        omit(4, "version", Str),
        omit(5, "resource", Str),
        omit(6, "subresource", Str),
        omit(7, "name", Str),
        one(
            8,
            "fieldSelector",
            Msg(&AUTHORIZATION_V1_FIELD_SELECTOR_ATTRIBUTES),
        ),
        one(
            9,
            "labelSelector",
            Msg(&AUTHORIZATION_V1_LABEL_SELECTOR_ATTRIBUTES),
        ),
    ],
);
static AUTHORIZATION_V1_RESOURCE_RULE: Message = msg(
    "authorization/v1.ResourceRule",
    &[
        rep_or_null(1, "verbs", Str),
        rep(2, "apiGroups", Str),
        rep(3, "resources", Str),
        rep(4, "resourceNames", Str),
    ],
);
static AUTHORIZATION_V1_SELF_SUBJECT_ACCESS_REVIEW: Message = msg(
    "authorization/v1.SelfSubjectAccessReview",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(
            2,
            "spec",
            Msg(&AUTHORIZATION_V1_SELF_SUBJECT_ACCESS_REVIEW_SPEC),
        ),
        one(
            3,
            "status",
            Msg(&AUTHORIZATION_V1_SUBJECT_ACCESS_REVIEW_STATUS),
        ),
    ],
);
static AUTHORIZATION_V1_SELF_SUBJECT_ACCESS_REVIEW_SPEC: Message = msg(
    "authorization/v1.SelfSubjectAccessReviewSpec",
    &[
        one(
            1,
            "resourceAttributes",
            Msg(&AUTHORIZATION_V1_RESOURCE_ATTRIBUTES),
        ),
        one(
            2,
            "nonResourceAttributes",
            Msg(&AUTHORIZATION_V1_NON_RESOURCE_ATTRIBUTES),
        ),
    ],
);
static AUTHORIZATION_V1_SELF_SUBJECT_RULES_REVIEW: Message = msg(
    "authorization/v1.SelfSubjectRulesReview",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(
            2,
            "spec",
            Msg(&AUTHORIZATION_V1_SELF_SUBJECT_RULES_REVIEW_SPEC),
        ),
        one(
            3,
            "status",
            Msg(&AUTHORIZATION_V1_SUBJECT_RULES_REVIEW_STATUS),
        ),
    ],
);
static AUTHORIZATION_V1_SELF_SUBJECT_RULES_REVIEW_SPEC: Message = msg(
    "authorization/v1.SelfSubjectRulesReviewSpec",
    &[omit(1, "namespace", Str)],
);
static AUTHORIZATION_V1_SUBJECT_ACCESS_REVIEW: Message = msg(
    "authorization/v1.SubjectAccessReview",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "spec", Msg(&AUTHORIZATION_V1_SUBJECT_ACCESS_REVIEW_SPEC)),
        one(
            3,
            "status",
            Msg(&AUTHORIZATION_V1_SUBJECT_ACCESS_REVIEW_STATUS),
        ),
    ],
);
static AUTHORIZATION_V1_SUBJECT_ACCESS_REVIEW_SPEC: Message = msg(
    "authorization/v1.SubjectAccessReviewSpec",
    &[
        one(
            1,
            "resourceAttributes",
            Msg(&AUTHORIZATION_V1_RESOURCE_ATTRIBUTES),
        ),
        one(
            2,
            "nonResourceAttributes",
            Msg(&AUTHORIZATION_V1_NON_RESOURCE_ATTRIBUTES),
        ),
        omit(3, "user", Str),
        rep(4, "groups", Str),
        map(5, "extra", StrList),
        omit(6, "uid", Str),
    ],
);
static AUTHORIZATION_V1_SUBJECT_ACCESS_REVIEW_STATUS: Message = msg(
    "authorization/v1.SubjectAccessReviewStatus",
    &[
        always(1, "allowed", Bool),
        omit(4, "denied", Bool),
        omit(2, "reason", Str),
        omit(3, "evaluationError", Str),
    ],
);
static AUTHORIZATION_V1_SUBJECT_RULES_REVIEW_STATUS: Message = msg(
    "authorization/v1.SubjectRulesReviewStatus",
    &[
        rep_or_null(1, "resourceRules", Msg(&AUTHORIZATION_V1_RESOURCE_RULE)),
        rep_or_null(
            2,
            "nonResourceRules",
            Msg(&AUTHORIZATION_V1_NON_RESOURCE_RULE),
        ),
        always(3, "incomplete", Bool),
        omit(4, "evaluationError", Str),
    ],
);
static BATCH_V1_CRON_JOB: Message = msg(
    "batch/v1.CronJob",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "spec", Msg(&BATCH_V1_CRON_JOB_SPEC)),
        one(3, "status", Msg(&BATCH_V1_CRON_JOB_STATUS)),
    ],
);
static BATCH_V1_CRON_JOB_LIST: Message = msg(
    "batch/v1.CronJobList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&BATCH_V1_CRON_JOB)),
    ],
);
static BATCH_V1_CRON_JOB_SPEC: Message = msg(
    "batch/v1.CronJobSpec",
    &[
        always(1, "schedule", Str),
        keep(8, "timeZone", Str),
        keep(2, "startingDeadlineSeconds", I64),
        omit(3, "concurrencyPolicy", Str),
        keep(4, "suspend", Bool),
        one(5, "jobTemplate", Msg(&BATCH_V1_JOB_TEMPLATE_SPEC)),
        keep(6, "successfulJobsHistoryLimit", I32),
        keep(7, "failedJobsHistoryLimit", I32),
    ],
);
static BATCH_V1_CRON_JOB_STATUS: Message = msg(
    "batch/v1.CronJobStatus",
    &[
        rep(1, "active", Msg(&CORE_V1_OBJECT_REFERENCE)),
        one(4, "lastScheduleTime", Time),
        one(5, "lastSuccessfulTime", Time),
    ],
);
static BATCH_V1_JOB: Message = msg(
    "batch/v1.Job",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "spec", Msg(&BATCH_V1_JOB_SPEC)),
        one(3, "status", Msg(&BATCH_V1_JOB_STATUS)),
    ],
);
static BATCH_V1_JOB_CONDITION: Message = msg(
    "batch/v1.JobCondition",
    &[
        always(1, "type", Str),
        always(2, "status", Str),
        one(3, "lastProbeTime", Time),
        one(4, "lastTransitionTime", Time),
        omit(5, "reason", Str),
        omit(6, "message", Str),
    ],
);
static BATCH_V1_JOB_LIST: Message = msg(
    "batch/v1.JobList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&BATCH_V1_JOB)),
    ],
);
static BATCH_V1_JOB_SCHEDULING_CONFIGURATION: Message =
    msg("batch/v1.JobSchedulingConfiguration", &[]);
static BATCH_V1_JOB_SPEC: Message = msg(
    "batch/v1.JobSpec",
    &[
        keep(1, "parallelism", I32),
        keep(2, "completions", I32),
        keep(3, "activeDeadlineSeconds", I64),
        one(11, "podFailurePolicy", Msg(&BATCH_V1_POD_FAILURE_POLICY)),
        one(16, "successPolicy", Msg(&BATCH_V1_SUCCESS_POLICY)),
        keep(7, "backoffLimit", I32),
        keep(12, "backoffLimitPerIndex", I32),
        keep(13, "maxFailedIndexes", I32),
        one(4, "selector", Msg(&META_V1_LABEL_SELECTOR)),
        keep(5, "manualSelector", Bool),
        one(6, "template", Msg(&CORE_V1_POD_TEMPLATE_SPEC)),
        keep(8, "ttlSecondsAfterFinished", I32),
        keep(9, "completionMode", Str),
        keep(10, "suspend", Bool),
        keep(14, "podReplacementPolicy", Str),
        keep(15, "managedBy", Str),
        one(
            17,
            "scheduling",
            Msg(&BATCH_V1_JOB_SCHEDULING_CONFIGURATION),
        ),
    ],
);
static BATCH_V1_JOB_STATUS: Message = msg(
    "batch/v1.JobStatus",
    &[
        rep(1, "conditions", Msg(&BATCH_V1_JOB_CONDITION)),
        one(2, "startTime", Time),
        one(3, "completionTime", Time),
        omit(4, "active", I32),
        omit(5, "succeeded", I32),
        omit(6, "failed", I32),
        keep(11, "terminating", I32),
        omit(7, "completedIndexes", Str),
        keep(10, "failedIndexes", Str),
        one(
            8,
            "uncountedTerminatedPods",
            Msg(&BATCH_V1_UNCOUNTED_TERMINATED_PODS),
        ),
        keep(9, "ready", I32),
    ],
);
static BATCH_V1_JOB_TEMPLATE_SPEC: Message = msg(
    "batch/v1.JobTemplateSpec",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "spec", Msg(&BATCH_V1_JOB_SPEC)),
    ],
);
static BATCH_V1_POD_FAILURE_POLICY: Message = msg(
    "batch/v1.PodFailurePolicy",
    &[rep_or_null(
        1,
        "rules",
        Msg(&BATCH_V1_POD_FAILURE_POLICY_RULE),
    )],
);
static BATCH_V1_POD_FAILURE_POLICY_ON_EXIT_CODES_REQUIREMENT: Message = msg(
    "batch/v1.PodFailurePolicyOnExitCodesRequirement",
    &[
        keep(1, "containerName", Str),
        always(2, "operator", Str),
        rep_or_null(3, "values", I32),
    ],
);
static BATCH_V1_POD_FAILURE_POLICY_ON_POD_CONDITIONS_PATTERN: Message = msg(
    "batch/v1.PodFailurePolicyOnPodConditionsPattern",
    &[always(1, "type", Str), always(2, "status", Str)],
);
static BATCH_V1_POD_FAILURE_POLICY_RULE: Message = msg(
    "batch/v1.PodFailurePolicyRule",
    &[
        always(1, "action", Str),
        one(
            2,
            "onExitCodes",
            Msg(&BATCH_V1_POD_FAILURE_POLICY_ON_EXIT_CODES_REQUIREMENT),
        ),
        rep(
            3,
            "onPodConditions",
            Msg(&BATCH_V1_POD_FAILURE_POLICY_ON_POD_CONDITIONS_PATTERN),
        ),
    ],
);
static BATCH_V1_SUCCESS_POLICY: Message = msg(
    "batch/v1.SuccessPolicy",
    &[rep_or_null(1, "rules", Msg(&BATCH_V1_SUCCESS_POLICY_RULE))],
);
static BATCH_V1_SUCCESS_POLICY_RULE: Message = msg(
    "batch/v1.SuccessPolicyRule",
    &[
        keep(1, "succeededIndexes", Str),
        keep(2, "succeededCount", I32),
    ],
);
static BATCH_V1_UNCOUNTED_TERMINATED_PODS: Message = msg(
    "batch/v1.UncountedTerminatedPods",
    &[rep(1, "succeeded", Str), rep(2, "failed", Str)],
);
static COORDINATION_V1_LEASE: Message = msg(
    "coordination/v1.Lease",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "spec", Msg(&COORDINATION_V1_LEASE_SPEC)),
    ],
);
static COORDINATION_V1_LEASE_LIST: Message = msg(
    "coordination/v1.LeaseList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&COORDINATION_V1_LEASE)),
    ],
);
static COORDINATION_V1_LEASE_SPEC: Message = msg(
    "coordination/v1.LeaseSpec",
    &[
        keep(1, "holderIdentity", Str),
        keep(2, "leaseDurationSeconds", I32),
        one(3, "acquireTime", MicroTime),
        one(4, "renewTime", MicroTime),
        keep(5, "leaseTransitions", I32),
        keep(6, "strategy", Str),
        keep(7, "preferredHolder", Str),
    ],
);
static CORE_V1_AWS_ELASTIC_BLOCK_STORE_VOLUME_SOURCE: Message = msg(
    "core/v1.AWSElasticBlockStoreVolumeSource",
    &[
        always(1, "volumeID", Str),
        omit(2, "fsType", Str),
        omit(3, "partition", I32),
        omit(4, "readOnly", Bool),
    ],
);
static CORE_V1_AFFINITY: Message = msg(
    "core/v1.Affinity",
    &[
        one(1, "nodeAffinity", Msg(&CORE_V1_NODE_AFFINITY)),
        one(2, "podAffinity", Msg(&CORE_V1_POD_AFFINITY)),
        one(3, "podAntiAffinity", Msg(&CORE_V1_POD_ANTI_AFFINITY)),
    ],
);
static CORE_V1_APP_ARMOR_PROFILE: Message = msg(
    "core/v1.AppArmorProfile",
    &[always(1, "type", Str), keep(2, "localhostProfile", Str)],
);
static CORE_V1_ATTACHED_VOLUME: Message = msg(
    "core/v1.AttachedVolume",
    &[always(1, "name", Str), always(2, "devicePath", Str)],
);
static CORE_V1_AZURE_DISK_VOLUME_SOURCE: Message = msg(
    "core/v1.AzureDiskVolumeSource",
    &[
        always(1, "diskName", Str),
        always(2, "diskURI", Str),
        keep(3, "cachingMode", Str),
        keep(4, "fsType", Str),
        keep(5, "readOnly", Bool),
        keep(6, "kind", Str),
    ],
);
static CORE_V1_AZURE_FILE_VOLUME_SOURCE: Message = msg(
    "core/v1.AzureFileVolumeSource",
    &[
        always(1, "secretName", Str),
        always(2, "shareName", Str),
        omit(3, "readOnly", Bool),
    ],
);
static CORE_V1_BINDING: Message = msg(
    "core/v1.Binding",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "target", Msg(&CORE_V1_OBJECT_REFERENCE)),
    ],
);
static CORE_V1_CSI_VOLUME_SOURCE: Message = msg(
    "core/v1.CSIVolumeSource",
    &[
        always(1, "driver", Str),
        keep(2, "readOnly", Bool),
        keep(3, "fsType", Str),
        map(4, "volumeAttributes", Str),
        one(
            5,
            "nodePublishSecretRef",
            Msg(&CORE_V1_LOCAL_OBJECT_REFERENCE),
        ),
    ],
);
static CORE_V1_CAPABILITIES: Message = msg(
    "core/v1.Capabilities",
    &[rep(1, "add", Str), rep(2, "drop", Str)],
);
static CORE_V1_CEPH_FS_VOLUME_SOURCE: Message = msg(
    "core/v1.CephFSVolumeSource",
    &[
        rep_or_null(1, "monitors", Str),
        omit(2, "path", Str),
        omit(3, "user", Str),
        omit(4, "secretFile", Str),
        one(5, "secretRef", Msg(&CORE_V1_LOCAL_OBJECT_REFERENCE)),
        omit(6, "readOnly", Bool),
    ],
);
static CORE_V1_CINDER_VOLUME_SOURCE: Message = msg(
    "core/v1.CinderVolumeSource",
    &[
        always(1, "volumeID", Str),
        omit(2, "fsType", Str),
        omit(3, "readOnly", Bool),
        one(4, "secretRef", Msg(&CORE_V1_LOCAL_OBJECT_REFERENCE)),
    ],
);
static CORE_V1_CLIENT_IP_CONFIG: Message =
    msg("core/v1.ClientIPConfig", &[keep(1, "timeoutSeconds", I32)]);
static CORE_V1_CLUSTER_TRUST_BUNDLE_PROJECTION: Message = msg(
    "core/v1.ClusterTrustBundleProjection",
    &[
        keep(1, "name", Str),
        keep(2, "signerName", Str),
        one(3, "labelSelector", Msg(&META_V1_LABEL_SELECTOR)),
        keep(5, "optional", Bool),
        always(4, "path", Str),
        keep(6, "user", I64),
    ],
);
static CORE_V1_CONFIG_MAP: Message = msg(
    "core/v1.ConfigMap",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        keep(4, "immutable", Bool),
        map(2, "data", Str),
        map(3, "binaryData", Bytes),
    ],
);
static CORE_V1_CONFIG_MAP_ENV_SOURCE: Message = msg(
    "core/v1.ConfigMapEnvSource",
    &[
        inline(1, &CORE_V1_LOCAL_OBJECT_REFERENCE),
        keep(2, "optional", Bool),
    ],
);
static CORE_V1_CONFIG_MAP_KEY_SELECTOR: Message = msg(
    "core/v1.ConfigMapKeySelector",
    &[
        inline(1, &CORE_V1_LOCAL_OBJECT_REFERENCE),
        always(2, "key", Str),
        keep(3, "optional", Bool),
    ],
);
static CORE_V1_CONFIG_MAP_LIST: Message = msg(
    "core/v1.ConfigMapList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&CORE_V1_CONFIG_MAP)),
    ],
);
static CORE_V1_CONFIG_MAP_NODE_CONFIG_SOURCE: Message = msg(
    "core/v1.ConfigMapNodeConfigSource",
    &[
        always(1, "namespace", Str),
        always(2, "name", Str),
        omit(3, "uid", Str),
        omit(4, "resourceVersion", Str),
        always(5, "kubeletConfigKey", Str),
    ],
);
static CORE_V1_CONFIG_MAP_PROJECTION: Message = msg(
    "core/v1.ConfigMapProjection",
    &[
        inline(1, &CORE_V1_LOCAL_OBJECT_REFERENCE),
        rep(2, "items", Msg(&CORE_V1_KEY_TO_PATH)),
        keep(4, "optional", Bool),
    ],
);
static CORE_V1_CONFIG_MAP_VOLUME_SOURCE: Message = msg(
    "core/v1.ConfigMapVolumeSource",
    &[
        inline(1, &CORE_V1_LOCAL_OBJECT_REFERENCE),
        rep(2, "items", Msg(&CORE_V1_KEY_TO_PATH)),
        keep(3, "defaultMode", I32),
        keep(4, "optional", Bool),
        keep(5, "defaultUser", I64),
    ],
);
static CORE_V1_CONTAINER: Message = msg(
    "core/v1.Container",
    &[
        always(1, "name", Str),
        omit(2, "image", Str),
        rep(3, "command", Str),
        rep(4, "args", Str),
        omit(5, "workingDir", Str),
        rep(6, "ports", Msg(&CORE_V1_CONTAINER_PORT)),
        rep(19, "envFrom", Msg(&CORE_V1_ENV_FROM_SOURCE)),
        rep(7, "env", Msg(&CORE_V1_ENV_VAR)),
        one(8, "resources", Msg(&CORE_V1_RESOURCE_REQUIREMENTS)),
        rep(23, "resizePolicy", Msg(&CORE_V1_CONTAINER_RESIZE_POLICY)),
        keep(24, "restartPolicy", Str),
        rep(
            25,
            "restartPolicyRules",
            Msg(&CORE_V1_CONTAINER_RESTART_RULE),
        ),
        rep(9, "volumeMounts", Msg(&CORE_V1_VOLUME_MOUNT)),
        rep(21, "volumeDevices", Msg(&CORE_V1_VOLUME_DEVICE)),
        one(10, "livenessProbe", Msg(&CORE_V1_PROBE)),
        one(11, "readinessProbe", Msg(&CORE_V1_PROBE)),
        one(22, "startupProbe", Msg(&CORE_V1_PROBE)),
        one(12, "lifecycle", Msg(&CORE_V1_LIFECYCLE)),
        omit(13, "terminationMessagePath", Str),
        omit(20, "terminationMessagePolicy", Str),
        omit(14, "imagePullPolicy", Str),
        one(15, "securityContext", Msg(&CORE_V1_SECURITY_CONTEXT)),
        omit(16, "stdin", Bool),
        omit(17, "stdinOnce", Bool),
        omit(18, "tty", Bool),
    ],
);
static CORE_V1_CONTAINER_EXTENDED_RESOURCE_REQUEST: Message = msg(
    "core/v1.ContainerExtendedResourceRequest",
    &[
        always(1, "containerName", Str),
        always(2, "resourceName", Str),
        always(3, "requestName", Str),
    ],
);
static CORE_V1_CONTAINER_IMAGE: Message = msg(
    "core/v1.ContainerImage",
    &[rep_or_null(1, "names", Str), omit(2, "sizeBytes", I64)],
);
static CORE_V1_CONTAINER_PORT: Message = msg(
    "core/v1.ContainerPort",
    &[
        omit(1, "name", Str),
        omit(2, "hostPort", I32),
        always(3, "containerPort", I32),
        omit(4, "protocol", Str),
        omit(5, "hostIP", Str),
    ],
);
static CORE_V1_CONTAINER_RESIZE_POLICY: Message = msg(
    "core/v1.ContainerResizePolicy",
    &[
        always(1, "resourceName", Str),
        always(2, "restartPolicy", Str),
    ],
);
static CORE_V1_CONTAINER_RESTART_RULE: Message = msg(
    "core/v1.ContainerRestartRule",
    &[
        omit(1, "action", Str),
        one(
            2,
            "exitCodes",
            Msg(&CORE_V1_CONTAINER_RESTART_RULE_ON_EXIT_CODES),
        ),
    ],
);
static CORE_V1_CONTAINER_RESTART_RULE_ON_EXIT_CODES: Message = msg(
    "core/v1.ContainerRestartRuleOnExitCodes",
    &[omit(1, "operator", Str), rep(2, "values", I32)],
);
static CORE_V1_CONTAINER_STATE: Message = msg(
    "core/v1.ContainerState",
    &[
        one(1, "waiting", Msg(&CORE_V1_CONTAINER_STATE_WAITING)),
        one(2, "running", Msg(&CORE_V1_CONTAINER_STATE_RUNNING)),
        one(3, "terminated", Msg(&CORE_V1_CONTAINER_STATE_TERMINATED)),
    ],
);
static CORE_V1_CONTAINER_STATE_RUNNING: Message = msg(
    "core/v1.ContainerStateRunning",
    &[one(1, "startedAt", Time)],
);
static CORE_V1_CONTAINER_STATE_TERMINATED: Message = msg(
    "core/v1.ContainerStateTerminated",
    &[
        always(1, "exitCode", I32),
        omit(2, "signal", I32),
        omit(3, "reason", Str),
        omit(4, "message", Str),
        one(5, "startedAt", Time),
        one(6, "finishedAt", Time),
        omit(7, "containerID", Str),
    ],
);
static CORE_V1_CONTAINER_STATE_WAITING: Message = msg(
    "core/v1.ContainerStateWaiting",
    &[omit(1, "reason", Str), omit(2, "message", Str)],
);
static CORE_V1_CONTAINER_STATUS: Message = msg(
    "core/v1.ContainerStatus",
    &[
        always(1, "name", Str),
        one(2, "state", Msg(&CORE_V1_CONTAINER_STATE)),
        one(3, "lastState", Msg(&CORE_V1_CONTAINER_STATE)),
        always(4, "ready", Bool),
        always(5, "restartCount", I32),
        always(6, "image", Str),
        always(7, "imageID", Str),
        omit(8, "containerID", Str),
        keep(9, "started", Bool),
        map(10, "allocatedResources", Quantity),
        one(11, "resources", Msg(&CORE_V1_RESOURCE_REQUIREMENTS)),
        rep(12, "volumeMounts", Msg(&CORE_V1_VOLUME_MOUNT_STATUS)),
        one(13, "user", Msg(&CORE_V1_CONTAINER_USER)),
        rep(
            14,
            "allocatedResourcesStatus",
            Msg(&CORE_V1_RESOURCE_STATUS),
        ),
        keep(15, "stopSignal", Str),
    ],
);
static CORE_V1_CONTAINER_USER: Message = msg(
    "core/v1.ContainerUser",
    &[one(1, "linux", Msg(&CORE_V1_LINUX_CONTAINER_USER))],
);
static CORE_V1_DAEMON_ENDPOINT: Message = msg("core/v1.DaemonEndpoint", &[always(1, "Port", I32)]);
static CORE_V1_DOWNWARD_API_PROJECTION: Message = msg(
    "core/v1.DownwardAPIProjection",
    &[rep(1, "items", Msg(&CORE_V1_DOWNWARD_API_VOLUME_FILE))],
);
static CORE_V1_DOWNWARD_API_VOLUME_FILE: Message = msg(
    "core/v1.DownwardAPIVolumeFile",
    &[
        always(1, "path", Str),
        one(2, "fieldRef", Msg(&CORE_V1_OBJECT_FIELD_SELECTOR)),
        one(3, "resourceFieldRef", Msg(&CORE_V1_RESOURCE_FIELD_SELECTOR)),
        keep(4, "mode", I32),
        keep(5, "user", I64),
    ],
);
static CORE_V1_DOWNWARD_API_VOLUME_SOURCE: Message = msg(
    "core/v1.DownwardAPIVolumeSource",
    &[
        rep(1, "items", Msg(&CORE_V1_DOWNWARD_API_VOLUME_FILE)),
        keep(2, "defaultMode", I32),
        keep(3, "defaultUser", I64),
    ],
);
static CORE_V1_EMPTY_DIR_VOLUME_SOURCE: Message = msg(
    "core/v1.EmptyDirVolumeSource",
    &[
        omit(1, "medium", Str),
        one(2, "sizeLimit", Quantity),
        keep(3, "mode", I32),
    ],
);
static CORE_V1_ENDPOINT_ADDRESS: Message = msg(
    "core/v1.EndpointAddress",
    &[
        always(1, "ip", Str),
        omit(3, "hostname", Str),
        keep(4, "nodeName", Str),
        one(2, "targetRef", Msg(&CORE_V1_OBJECT_REFERENCE)),
    ],
);
static CORE_V1_ENDPOINT_PORT: Message = msg(
    "core/v1.EndpointPort",
    &[
        omit(1, "name", Str),
        always(2, "port", I32),
        omit(3, "protocol", Str),
        keep(4, "appProtocol", Str),
    ],
);
static CORE_V1_ENDPOINT_SUBSET: Message = msg(
    "core/v1.EndpointSubset",
    &[
        rep(1, "addresses", Msg(&CORE_V1_ENDPOINT_ADDRESS)),
        rep(2, "notReadyAddresses", Msg(&CORE_V1_ENDPOINT_ADDRESS)),
        rep(3, "ports", Msg(&CORE_V1_ENDPOINT_PORT)),
    ],
);
static CORE_V1_ENDPOINTS: Message = msg(
    "core/v1.Endpoints",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        rep(2, "subsets", Msg(&CORE_V1_ENDPOINT_SUBSET)),
    ],
);
static CORE_V1_ENDPOINTS_LIST: Message = msg(
    "core/v1.EndpointsList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&CORE_V1_ENDPOINTS)),
    ],
);
static CORE_V1_ENV_FROM_SOURCE: Message = msg(
    "core/v1.EnvFromSource",
    &[
        omit(1, "prefix", Str),
        one(2, "configMapRef", Msg(&CORE_V1_CONFIG_MAP_ENV_SOURCE)),
        one(3, "secretRef", Msg(&CORE_V1_SECRET_ENV_SOURCE)),
    ],
);
static CORE_V1_ENV_VAR: Message = msg(
    "core/v1.EnvVar",
    &[
        always(1, "name", Str),
        omit(2, "value", Str),
        one(3, "valueFrom", Msg(&CORE_V1_ENV_VAR_SOURCE)),
    ],
);
static CORE_V1_ENV_VAR_SOURCE: Message = msg(
    "core/v1.EnvVarSource",
    &[
        one(1, "fieldRef", Msg(&CORE_V1_OBJECT_FIELD_SELECTOR)),
        one(2, "resourceFieldRef", Msg(&CORE_V1_RESOURCE_FIELD_SELECTOR)),
        one(3, "configMapKeyRef", Msg(&CORE_V1_CONFIG_MAP_KEY_SELECTOR)),
        one(4, "secretKeyRef", Msg(&CORE_V1_SECRET_KEY_SELECTOR)),
        one(5, "fileKeyRef", Msg(&CORE_V1_FILE_KEY_SELECTOR)),
    ],
);
static CORE_V1_EPHEMERAL_CONTAINER: Message = msg(
    "core/v1.EphemeralContainer",
    &[
        inline(1, &CORE_V1_EPHEMERAL_CONTAINER_COMMON),
        omit(2, "targetContainerName", Str),
    ],
);
static CORE_V1_EPHEMERAL_CONTAINER_COMMON: Message = msg(
    "core/v1.EphemeralContainerCommon",
    &[
        always(1, "name", Str),
        omit(2, "image", Str),
        rep(3, "command", Str),
        rep(4, "args", Str),
        omit(5, "workingDir", Str),
        rep(6, "ports", Msg(&CORE_V1_CONTAINER_PORT)),
        rep(19, "envFrom", Msg(&CORE_V1_ENV_FROM_SOURCE)),
        rep(7, "env", Msg(&CORE_V1_ENV_VAR)),
        one(8, "resources", Msg(&CORE_V1_RESOURCE_REQUIREMENTS)),
        rep(23, "resizePolicy", Msg(&CORE_V1_CONTAINER_RESIZE_POLICY)),
        keep(24, "restartPolicy", Str),
        rep(
            25,
            "restartPolicyRules",
            Msg(&CORE_V1_CONTAINER_RESTART_RULE),
        ),
        rep(9, "volumeMounts", Msg(&CORE_V1_VOLUME_MOUNT)),
        rep(21, "volumeDevices", Msg(&CORE_V1_VOLUME_DEVICE)),
        one(10, "livenessProbe", Msg(&CORE_V1_PROBE)),
        one(11, "readinessProbe", Msg(&CORE_V1_PROBE)),
        one(22, "startupProbe", Msg(&CORE_V1_PROBE)),
        one(12, "lifecycle", Msg(&CORE_V1_LIFECYCLE)),
        omit(13, "terminationMessagePath", Str),
        omit(20, "terminationMessagePolicy", Str),
        omit(14, "imagePullPolicy", Str),
        one(15, "securityContext", Msg(&CORE_V1_SECURITY_CONTEXT)),
        omit(16, "stdin", Bool),
        omit(17, "stdinOnce", Bool),
        omit(18, "tty", Bool),
    ],
);
static CORE_V1_EPHEMERAL_VOLUME_SOURCE: Message = msg(
    "core/v1.EphemeralVolumeSource",
    &[one(
        1,
        "volumeClaimTemplate",
        Msg(&CORE_V1_PERSISTENT_VOLUME_CLAIM_TEMPLATE),
    )],
);
static CORE_V1_EVENT: Message = msg(
    "core/v1.Event",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "involvedObject", Msg(&CORE_V1_OBJECT_REFERENCE)),
        omit(3, "reason", Str),
        omit(4, "message", Str),
        one(5, "source", Msg(&CORE_V1_EVENT_SOURCE)),
        one(6, "firstTimestamp", Time),
        one(7, "lastTimestamp", Time),
        omit(8, "count", I32),
        omit(9, "type", Str),
        one(10, "eventTime", MicroTime),
        one(11, "series", Msg(&CORE_V1_EVENT_SERIES)),
        omit(12, "action", Str),
        one(13, "related", Msg(&CORE_V1_OBJECT_REFERENCE)),
        always(14, "reportingComponent", Str),
        always(15, "reportingInstance", Str),
    ],
);
static CORE_V1_EVENT_LIST: Message = msg(
    "core/v1.EventList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&CORE_V1_EVENT)),
    ],
);
static CORE_V1_EVENT_SERIES: Message = msg(
    "core/v1.EventSeries",
    &[omit(1, "count", I32), one(2, "lastObservedTime", MicroTime)],
);
static CORE_V1_EVENT_SOURCE: Message = msg(
    "core/v1.EventSource",
    &[omit(1, "component", Str), omit(2, "host", Str)],
);
static CORE_V1_EVICTION_RESPONDER: Message = msg(
    "core/v1.EvictionResponder",
    &[always(1, "name", Str), keep(2, "priority", I32)],
);
static CORE_V1_EXEC_ACTION: Message = msg("core/v1.ExecAction", &[rep(1, "command", Str)]);
static CORE_V1_FC_VOLUME_SOURCE: Message = msg(
    "core/v1.FCVolumeSource",
    &[
        rep(1, "targetWWNs", Str),
        keep(2, "lun", I32),
        omit(3, "fsType", Str),
        omit(4, "readOnly", Bool),
        rep(5, "wwids", Str),
    ],
);
static CORE_V1_FILE_KEY_SELECTOR: Message = msg(
    "core/v1.FileKeySelector",
    &[
        always(1, "volumeName", Str),
        always(2, "path", Str),
        always(3, "key", Str),
        keep(4, "optional", Bool),
    ],
);
static CORE_V1_FLEX_VOLUME_SOURCE: Message = msg(
    "core/v1.FlexVolumeSource",
    &[
        always(1, "driver", Str),
        omit(2, "fsType", Str),
        one(3, "secretRef", Msg(&CORE_V1_LOCAL_OBJECT_REFERENCE)),
        omit(4, "readOnly", Bool),
        map(5, "options", Str),
    ],
);
static CORE_V1_FLOCKER_VOLUME_SOURCE: Message = msg(
    "core/v1.FlockerVolumeSource",
    &[omit(1, "datasetName", Str), omit(2, "datasetUUID", Str)],
);
static CORE_V1_GCE_PERSISTENT_DISK_VOLUME_SOURCE: Message = msg(
    "core/v1.GCEPersistentDiskVolumeSource",
    &[
        always(1, "pdName", Str),
        omit(2, "fsType", Str),
        omit(3, "partition", I32),
        omit(4, "readOnly", Bool),
    ],
);
static CORE_V1_GRPC_ACTION: Message = msg(
    "core/v1.GRPCAction",
    &[
        always(1, "port", I32),
        keep(2, "service", Str),
        keep(3, "mode", Str),
    ],
);
static CORE_V1_GIT_REPO_VOLUME_SOURCE: Message = msg(
    "core/v1.GitRepoVolumeSource",
    &[
        always(1, "repository", Str),
        omit(2, "revision", Str),
        omit(3, "directory", Str),
    ],
);
static CORE_V1_GLUSTERFS_VOLUME_SOURCE: Message = msg(
    "core/v1.GlusterfsVolumeSource",
    &[
        always(1, "endpoints", Str),
        always(2, "path", Str),
        omit(3, "readOnly", Bool),
    ],
);
static CORE_V1_HTTP_GET_ACTION: Message = msg(
    "core/v1.HTTPGetAction",
    &[
        omit(1, "path", Str),
        one(2, "port", IntOrString),
        omit(3, "host", Str),
        omit(4, "scheme", Str),
        rep(5, "httpHeaders", Msg(&CORE_V1_HTTP_HEADER)),
        keep(6, "protocol", Str),
    ],
);
static CORE_V1_HTTP_HEADER: Message = msg(
    "core/v1.HTTPHeader",
    &[always(1, "name", Str), always(2, "value", Str)],
);
static CORE_V1_HOST_ALIAS: Message = msg(
    "core/v1.HostAlias",
    &[always(1, "ip", Str), rep(2, "hostnames", Str)],
);
static CORE_V1_HOST_IP: Message = msg("core/v1.HostIP", &[always(1, "ip", Str)]);
static CORE_V1_HOST_PATH_VOLUME_SOURCE: Message = msg(
    "core/v1.HostPathVolumeSource",
    &[always(1, "path", Str), keep(2, "type", Str)],
);
static CORE_V1_ISCSI_VOLUME_SOURCE: Message = msg(
    "core/v1.ISCSIVolumeSource",
    &[
        always(1, "targetPortal", Str),
        always(2, "iqn", Str),
        always(3, "lun", I32),
        omit(4, "iscsiInterface", Str),
        omit(5, "fsType", Str),
        omit(6, "readOnly", Bool),
        rep(7, "portals", Str),
        omit(8, "chapAuthDiscovery", Bool),
        omit(11, "chapAuthSession", Bool),
        one(10, "secretRef", Msg(&CORE_V1_LOCAL_OBJECT_REFERENCE)),
        keep(12, "initiatorName", Str),
    ],
);
static CORE_V1_IMAGE_VOLUME_SOURCE: Message = msg(
    "core/v1.ImageVolumeSource",
    &[omit(1, "reference", Str), omit(2, "pullPolicy", Str)],
);
static CORE_V1_IMAGE_VOLUME_STATUS: Message =
    msg("core/v1.ImageVolumeStatus", &[omit(1, "imageRef", Str)]);
static CORE_V1_KEY_TO_PATH: Message = msg(
    "core/v1.KeyToPath",
    &[
        always(1, "key", Str),
        always(2, "path", Str),
        keep(3, "mode", I32),
        keep(4, "user", I64),
    ],
);
static CORE_V1_LIFECYCLE: Message = msg(
    "core/v1.Lifecycle",
    &[
        one(1, "postStart", Msg(&CORE_V1_LIFECYCLE_HANDLER)),
        one(2, "preStop", Msg(&CORE_V1_LIFECYCLE_HANDLER)),
        keep(3, "stopSignal", Str),
    ],
);
static CORE_V1_LIFECYCLE_HANDLER: Message = msg(
    "core/v1.LifecycleHandler",
    &[
        one(1, "exec", Msg(&CORE_V1_EXEC_ACTION)),
        one(2, "httpGet", Msg(&CORE_V1_HTTP_GET_ACTION)),
        one(3, "tcpSocket", Msg(&CORE_V1_TCP_SOCKET_ACTION)),
        one(4, "sleep", Msg(&CORE_V1_SLEEP_ACTION)),
    ],
);
static CORE_V1_LIMIT_RANGE: Message = msg(
    "core/v1.LimitRange",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "spec", Msg(&CORE_V1_LIMIT_RANGE_SPEC)),
    ],
);
static CORE_V1_LIMIT_RANGE_ITEM: Message = msg(
    "core/v1.LimitRangeItem",
    &[
        always(1, "type", Str),
        map(2, "max", Quantity),
        map(3, "min", Quantity),
        map(4, "default", Quantity),
        map(5, "defaultRequest", Quantity),
        map(6, "maxLimitRequestRatio", Quantity),
    ],
);
static CORE_V1_LIMIT_RANGE_SPEC: Message = msg(
    "core/v1.LimitRangeSpec",
    &[rep_or_null(1, "limits", Msg(&CORE_V1_LIMIT_RANGE_ITEM))],
);
static CORE_V1_LINUX_CONTAINER_USER: Message = msg(
    "core/v1.LinuxContainerUser",
    &[
        always(1, "uid", I64),
        always(2, "gid", I64),
        rep(3, "supplementalGroups", I64),
    ],
);
static CORE_V1_LOAD_BALANCER_INGRESS: Message = msg(
    "core/v1.LoadBalancerIngress",
    &[
        omit(1, "ip", Str),
        omit(2, "hostname", Str),
        keep(3, "ipMode", Str),
        rep(4, "ports", Msg(&CORE_V1_PORT_STATUS)),
    ],
);
static CORE_V1_LOAD_BALANCER_STATUS: Message = msg(
    "core/v1.LoadBalancerStatus",
    &[rep(1, "ingress", Msg(&CORE_V1_LOAD_BALANCER_INGRESS))],
);
static CORE_V1_LOCAL_OBJECT_REFERENCE: Message =
    msg("core/v1.LocalObjectReference", &[omit(1, "name", Str)]);
static CORE_V1_MODIFY_VOLUME_STATUS: Message = msg(
    "core/v1.ModifyVolumeStatus",
    &[
        omit(1, "targetVolumeAttributesClassName", Str),
        always(2, "status", Str),
    ],
);
static CORE_V1_NFS_VOLUME_SOURCE: Message = msg(
    "core/v1.NFSVolumeSource",
    &[
        always(1, "server", Str),
        always(2, "path", Str),
        omit(3, "readOnly", Bool),
    ],
);
static CORE_V1_NAMESPACE: Message = msg(
    "core/v1.Namespace",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "spec", Msg(&CORE_V1_NAMESPACE_SPEC)),
        one(3, "status", Msg(&CORE_V1_NAMESPACE_STATUS)),
    ],
);
static CORE_V1_NAMESPACE_CONDITION: Message = msg(
    "core/v1.NamespaceCondition",
    &[
        always(1, "type", Str),
        always(2, "status", Str),
        one(4, "lastTransitionTime", Time),
        omit(5, "reason", Str),
        omit(6, "message", Str),
    ],
);
static CORE_V1_NAMESPACE_LIST: Message = msg(
    "core/v1.NamespaceList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&CORE_V1_NAMESPACE)),
    ],
);
static CORE_V1_NAMESPACE_SPEC: Message = msg("core/v1.NamespaceSpec", &[rep(1, "finalizers", Str)]);
static CORE_V1_NAMESPACE_STATUS: Message = msg(
    "core/v1.NamespaceStatus",
    &[
        omit(1, "phase", Str),
        rep(2, "conditions", Msg(&CORE_V1_NAMESPACE_CONDITION)),
    ],
);
static CORE_V1_NODE: Message = msg(
    "core/v1.Node",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "spec", Msg(&CORE_V1_NODE_SPEC)),
        one(3, "status", Msg(&CORE_V1_NODE_STATUS)),
    ],
);
static CORE_V1_NODE_ADDRESS: Message = msg(
    "core/v1.NodeAddress",
    &[always(1, "type", Str), always(2, "address", Str)],
);
static CORE_V1_NODE_AFFINITY: Message = msg(
    "core/v1.NodeAffinity",
    &[
        one(
            1,
            "requiredDuringSchedulingIgnoredDuringExecution",
            Msg(&CORE_V1_NODE_SELECTOR),
        ),
        rep(
            2,
            "preferredDuringSchedulingIgnoredDuringExecution",
            Msg(&CORE_V1_PREFERRED_SCHEDULING_TERM),
        ),
    ],
);
static CORE_V1_NODE_ALLOCATABLE_MAPPED_RESOURCES: Message = msg(
    "core/v1.NodeAllocatableMappedResources",
    &[always(1, "name", Str), one(2, "quantity", Quantity)],
);
static CORE_V1_NODE_ALLOCATABLE_OVERHEAD_RESOURCES: Message = msg(
    "core/v1.NodeAllocatableOverheadResources",
    &[
        always(1, "name", Str),
        one(2, "perPod", Quantity),
        one(3, "perContainer", Quantity),
    ],
);
static CORE_V1_NODE_ALLOCATABLE_RESOURCE_CLAIM_STATUS: Message = msg(
    "core/v1.NodeAllocatableResourceClaimStatus",
    &[
        always(1, "resourceClaimName", Str),
        rep(2, "containers", Str),
        rep(
            4,
            "mapping",
            Msg(&CORE_V1_NODE_ALLOCATABLE_MAPPED_RESOURCES),
        ),
        rep(
            5,
            "overhead",
            Msg(&CORE_V1_NODE_ALLOCATABLE_OVERHEAD_RESOURCES),
        ),
    ],
);
static CORE_V1_NODE_CONDITION: Message = msg(
    "core/v1.NodeCondition",
    &[
        always(1, "type", Str),
        always(2, "status", Str),
        one(3, "lastHeartbeatTime", Time),
        one(4, "lastTransitionTime", Time),
        omit(5, "reason", Str),
        omit(6, "message", Str),
    ],
);
static CORE_V1_NODE_CONFIG_SOURCE: Message = msg(
    "core/v1.NodeConfigSource",
    &[one(
        2,
        "configMap",
        Msg(&CORE_V1_CONFIG_MAP_NODE_CONFIG_SOURCE),
    )],
);
static CORE_V1_NODE_CONFIG_STATUS: Message = msg(
    "core/v1.NodeConfigStatus",
    &[
        one(1, "assigned", Msg(&CORE_V1_NODE_CONFIG_SOURCE)),
        one(2, "active", Msg(&CORE_V1_NODE_CONFIG_SOURCE)),
        one(3, "lastKnownGood", Msg(&CORE_V1_NODE_CONFIG_SOURCE)),
        omit(4, "error", Str),
    ],
);
static CORE_V1_NODE_DAEMON_ENDPOINTS: Message = msg(
    "core/v1.NodeDaemonEndpoints",
    &[one(1, "kubeletEndpoint", Msg(&CORE_V1_DAEMON_ENDPOINT))],
);
static CORE_V1_NODE_FEATURES: Message = msg(
    "core/v1.NodeFeatures",
    &[keep(1, "supplementalGroupsPolicy", Bool)],
);
static CORE_V1_NODE_LIST: Message = msg(
    "core/v1.NodeList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&CORE_V1_NODE)),
    ],
);
static CORE_V1_NODE_POD_PREEMPTION_POLICY: Message = msg(
    "core/v1.NodePodPreemptionPolicy",
    &[rep(1, "disableResizePreemption", Str)],
);
static CORE_V1_NODE_RUNTIME_HANDLER: Message = msg(
    "core/v1.NodeRuntimeHandler",
    &[
        always(1, "name", Str),
        one(2, "features", Msg(&CORE_V1_NODE_RUNTIME_HANDLER_FEATURES)),
    ],
);
static CORE_V1_NODE_RUNTIME_HANDLER_FEATURES: Message = msg(
    "core/v1.NodeRuntimeHandlerFeatures",
    &[
        keep(1, "recursiveReadOnlyMounts", Bool),
        keep(2, "userNamespaces", Bool),
    ],
);
static CORE_V1_NODE_SELECTOR: Message = msg(
    "core/v1.NodeSelector",
    &[rep_or_null(
        1,
        "nodeSelectorTerms",
        Msg(&CORE_V1_NODE_SELECTOR_TERM),
    )],
);
static CORE_V1_NODE_SELECTOR_REQUIREMENT: Message = msg(
    "core/v1.NodeSelectorRequirement",
    &[
        always(1, "key", Str),
        always(2, "operator", Str),
        rep(3, "values", Str),
    ],
);
static CORE_V1_NODE_SELECTOR_TERM: Message = msg(
    "core/v1.NodeSelectorTerm",
    &[
        rep(
            1,
            "matchExpressions",
            Msg(&CORE_V1_NODE_SELECTOR_REQUIREMENT),
        ),
        rep(2, "matchFields", Msg(&CORE_V1_NODE_SELECTOR_REQUIREMENT)),
    ],
);
static CORE_V1_NODE_SPEC: Message = msg(
    "core/v1.NodeSpec",
    &[
        omit(1, "podCIDR", Str),
        rep(7, "podCIDRs", Str),
        omit(3, "providerID", Str),
        omit(4, "unschedulable", Bool),
        rep(5, "taints", Msg(&CORE_V1_TAINT)),
        one(6, "configSource", Msg(&CORE_V1_NODE_CONFIG_SOURCE)),
        omit(2, "externalID", Str),
        one(
            8,
            "podPreemptionPolicy",
            Msg(&CORE_V1_NODE_POD_PREEMPTION_POLICY),
        ),
    ],
);
static CORE_V1_NODE_STATUS: Message = msg(
    "core/v1.NodeStatus",
    &[
        map(1, "capacity", Quantity),
        map(2, "allocatable", Quantity),
        omit(3, "phase", Str),
        rep(4, "conditions", Msg(&CORE_V1_NODE_CONDITION)),
        rep(5, "addresses", Msg(&CORE_V1_NODE_ADDRESS)),
        one(6, "daemonEndpoints", Msg(&CORE_V1_NODE_DAEMON_ENDPOINTS)),
        one(7, "nodeInfo", Msg(&CORE_V1_NODE_SYSTEM_INFO)),
        rep(8, "images", Msg(&CORE_V1_CONTAINER_IMAGE)),
        rep(9, "volumesInUse", Str),
        rep(10, "volumesAttached", Msg(&CORE_V1_ATTACHED_VOLUME)),
        one(11, "config", Msg(&CORE_V1_NODE_CONFIG_STATUS)),
        rep(12, "runtimeHandlers", Msg(&CORE_V1_NODE_RUNTIME_HANDLER)),
        one(13, "features", Msg(&CORE_V1_NODE_FEATURES)),
        rep(14, "declaredFeatures", Str),
    ],
);
static CORE_V1_NODE_SWAP_STATUS: Message =
    msg("core/v1.NodeSwapStatus", &[keep(1, "capacity", I64)]);
static CORE_V1_NODE_SYSTEM_INFO: Message = msg(
    "core/v1.NodeSystemInfo",
    &[
        always(1, "machineID", Str),
        always(2, "systemUUID", Str),
        always(3, "bootID", Str),
        always(4, "kernelVersion", Str),
        always(5, "osImage", Str),
        always(6, "containerRuntimeVersion", Str),
        always(7, "kubeletVersion", Str),
        always(8, "kubeProxyVersion", Str),
        always(9, "operatingSystem", Str),
        always(10, "architecture", Str),
        one(11, "swap", Msg(&CORE_V1_NODE_SWAP_STATUS)),
    ],
);
static CORE_V1_OBJECT_FIELD_SELECTOR: Message = msg(
    "core/v1.ObjectFieldSelector",
    &[omit(1, "apiVersion", Str), always(2, "fieldPath", Str)],
);
static CORE_V1_OBJECT_REFERENCE: Message = msg(
    "core/v1.ObjectReference",
    &[
        omit(1, "kind", Str),
        omit(2, "namespace", Str),
        omit(3, "name", Str),
        omit(4, "uid", Str),
        omit(5, "apiVersion", Str),
        omit(6, "resourceVersion", Str),
        omit(7, "fieldPath", Str),
    ],
);
static CORE_V1_PERSISTENT_VOLUME_CLAIM: Message = msg(
    "core/v1.PersistentVolumeClaim",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "spec", Msg(&CORE_V1_PERSISTENT_VOLUME_CLAIM_SPEC)),
        one(3, "status", Msg(&CORE_V1_PERSISTENT_VOLUME_CLAIM_STATUS)),
    ],
);
static CORE_V1_PERSISTENT_VOLUME_CLAIM_CONDITION: Message = msg(
    "core/v1.PersistentVolumeClaimCondition",
    &[
        always(1, "type", Str),
        always(2, "status", Str),
        one(3, "lastProbeTime", Time),
        one(4, "lastTransitionTime", Time),
        omit(5, "reason", Str),
        omit(6, "message", Str),
    ],
);
static CORE_V1_PERSISTENT_VOLUME_CLAIM_LIST: Message = msg(
    "core/v1.PersistentVolumeClaimList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&CORE_V1_PERSISTENT_VOLUME_CLAIM)),
    ],
);
static CORE_V1_PERSISTENT_VOLUME_CLAIM_SPEC: Message = msg(
    "core/v1.PersistentVolumeClaimSpec",
    &[
        rep(1, "accessModes", Str),
        one(4, "selector", Msg(&META_V1_LABEL_SELECTOR)),
        one(2, "resources", Msg(&CORE_V1_VOLUME_RESOURCE_REQUIREMENTS)),
        omit(3, "volumeName", Str),
        keep(5, "storageClassName", Str),
        keep(6, "volumeMode", Str),
        one(7, "dataSource", Msg(&CORE_V1_TYPED_LOCAL_OBJECT_REFERENCE)),
        one(8, "dataSourceRef", Msg(&CORE_V1_TYPED_OBJECT_REFERENCE)),
        keep(9, "volumeAttributesClassName", Str),
    ],
);
static CORE_V1_PERSISTENT_VOLUME_CLAIM_STATUS: Message = msg(
    "core/v1.PersistentVolumeClaimStatus",
    &[
        omit(1, "phase", Str),
        rep(2, "accessModes", Str),
        map(3, "capacity", Quantity),
        rep(
            4,
            "conditions",
            Msg(&CORE_V1_PERSISTENT_VOLUME_CLAIM_CONDITION),
        ),
        map(5, "allocatedResources", Quantity),
        map(7, "allocatedResourceStatuses", Str),
        keep(8, "currentVolumeAttributesClassName", Str),
        one(9, "modifyVolumeStatus", Msg(&CORE_V1_MODIFY_VOLUME_STATUS)),
        one(10, "healthStatus", Msg(&CORE_V1_VOLUME_HEALTH_STATUS)),
    ],
);
static CORE_V1_PERSISTENT_VOLUME_CLAIM_TEMPLATE: Message = msg(
    "core/v1.PersistentVolumeClaimTemplate",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "spec", Msg(&CORE_V1_PERSISTENT_VOLUME_CLAIM_SPEC)),
    ],
);
static CORE_V1_PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE: Message = msg(
    "core/v1.PersistentVolumeClaimVolumeSource",
    &[always(1, "claimName", Str), omit(2, "readOnly", Bool)],
);
static CORE_V1_PHOTON_PERSISTENT_DISK_VOLUME_SOURCE: Message = msg(
    "core/v1.PhotonPersistentDiskVolumeSource",
    &[always(1, "pdID", Str), omit(2, "fsType", Str)],
);
static CORE_V1_POD: Message = msg(
    "core/v1.Pod",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "spec", Msg(&CORE_V1_POD_SPEC)),
        one(3, "status", Msg(&CORE_V1_POD_STATUS)),
    ],
);
static CORE_V1_POD_AFFINITY: Message = msg(
    "core/v1.PodAffinity",
    &[
        rep(
            1,
            "requiredDuringSchedulingIgnoredDuringExecution",
            Msg(&CORE_V1_POD_AFFINITY_TERM),
        ),
        rep(
            2,
            "preferredDuringSchedulingIgnoredDuringExecution",
            Msg(&CORE_V1_WEIGHTED_POD_AFFINITY_TERM),
        ),
    ],
);
static CORE_V1_POD_AFFINITY_TERM: Message = msg(
    "core/v1.PodAffinityTerm",
    &[
        one(1, "labelSelector", Msg(&META_V1_LABEL_SELECTOR)),
        rep(2, "namespaces", Str),
        always(3, "topologyKey", Str),
        one(4, "namespaceSelector", Msg(&META_V1_LABEL_SELECTOR)),
        rep(5, "matchLabelKeys", Str),
        rep(6, "mismatchLabelKeys", Str),
    ],
);
static CORE_V1_POD_ANTI_AFFINITY: Message = msg(
    "core/v1.PodAntiAffinity",
    &[
        rep(
            1,
            "requiredDuringSchedulingIgnoredDuringExecution",
            Msg(&CORE_V1_POD_AFFINITY_TERM),
        ),
        rep(
            2,
            "preferredDuringSchedulingIgnoredDuringExecution",
            Msg(&CORE_V1_WEIGHTED_POD_AFFINITY_TERM),
        ),
    ],
);
static CORE_V1_POD_CERTIFICATE_PROJECTION: Message = msg(
    "core/v1.PodCertificateProjection",
    &[
        omit(1, "signerName", Str),
        omit(2, "keyType", Str),
        keep(3, "maxExpirationSeconds", I32),
        omit(4, "credentialBundlePath", Str),
        omit(5, "keyPath", Str),
        omit(6, "certificateChainPath", Str),
        map(7, "userAnnotations", Str),
        keep(8, "user", I64),
    ],
);
static CORE_V1_POD_CONDITION: Message = msg(
    "core/v1.PodCondition",
    &[
        always(1, "type", Str),
        omit(7, "observedGeneration", I64),
        always(2, "status", Str),
        one(3, "lastProbeTime", Time),
        one(4, "lastTransitionTime", Time),
        omit(5, "reason", Str),
        omit(6, "message", Str),
    ],
);
static CORE_V1_POD_DNS_CONFIG: Message = msg(
    "core/v1.PodDNSConfig",
    &[
        rep(1, "nameservers", Str),
        rep(2, "searches", Str),
        rep(3, "options", Msg(&CORE_V1_POD_DNS_CONFIG_OPTION)),
    ],
);
static CORE_V1_POD_DNS_CONFIG_OPTION: Message = msg(
    "core/v1.PodDNSConfigOption",
    &[omit(1, "name", Str), keep(2, "value", Str)],
);
static CORE_V1_POD_EXTENDED_RESOURCE_CLAIM_STATUS: Message = msg(
    "core/v1.PodExtendedResourceClaimStatus",
    &[
        rep_or_null(
            1,
            "requestMappings",
            Msg(&CORE_V1_CONTAINER_EXTENDED_RESOURCE_REQUEST),
        ),
        always(2, "resourceClaimName", Str),
    ],
);
static CORE_V1_POD_IP: Message = msg("core/v1.PodIP", &[always(1, "ip", Str)]);
static CORE_V1_POD_LIST: Message = msg(
    "core/v1.PodList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&CORE_V1_POD)),
    ],
);
static CORE_V1_POD_OS: Message = msg("core/v1.PodOS", &[always(1, "name", Str)]);
static CORE_V1_POD_READINESS_GATE: Message = msg(
    "core/v1.PodReadinessGate",
    &[always(1, "conditionType", Str)],
);
static CORE_V1_POD_RESOURCE_CLAIM: Message = msg(
    "core/v1.PodResourceClaim",
    &[
        always(1, "name", Str),
        keep(3, "resourceClaimName", Str),
        keep(4, "resourceClaimTemplateName", Str),
    ],
);
static CORE_V1_POD_RESOURCE_CLAIM_STATUS: Message = msg(
    "core/v1.PodResourceClaimStatus",
    &[always(1, "name", Str), keep(2, "resourceClaimName", Str)],
);
static CORE_V1_POD_SCHEDULING_GATE: Message =
    msg("core/v1.PodSchedulingGate", &[always(1, "name", Str)]);
static CORE_V1_POD_SCHEDULING_GROUP: Message = msg(
    "core/v1.PodSchedulingGroup",
    &[keep(1, "podGroupName", Str)],
);
static CORE_V1_POD_SECURITY_CONTEXT: Message = msg(
    "core/v1.PodSecurityContext",
    &[
        one(1, "seLinuxOptions", Msg(&CORE_V1_SE_LINUX_OPTIONS)),
        one(
            8,
            "windowsOptions",
            Msg(&CORE_V1_WINDOWS_SECURITY_CONTEXT_OPTIONS),
        ),
        keep(2, "runAsUser", I64),
        keep(6, "runAsGroup", I64),
        keep(3, "runAsNonRoot", Bool),
        rep(4, "supplementalGroups", I64),
        keep(12, "supplementalGroupsPolicy", Str),
        keep(5, "fsGroup", I64),
        rep(7, "sysctls", Msg(&CORE_V1_SYSCTL)),
        keep(9, "fsGroupChangePolicy", Str),
        one(10, "seccompProfile", Msg(&CORE_V1_SECCOMP_PROFILE)),
        one(11, "appArmorProfile", Msg(&CORE_V1_APP_ARMOR_PROFILE)),
        keep(13, "seLinuxChangePolicy", Str),
    ],
);
static CORE_V1_POD_SPEC: Message = msg(
    "core/v1.PodSpec",
    &[
        rep(1, "volumes", Msg(&CORE_V1_VOLUME)),
        rep(20, "initContainers", Msg(&CORE_V1_CONTAINER)),
        rep_or_null(2, "containers", Msg(&CORE_V1_CONTAINER)),
        rep(34, "ephemeralContainers", Msg(&CORE_V1_EPHEMERAL_CONTAINER)),
        omit(3, "restartPolicy", Str),
        keep(4, "terminationGracePeriodSeconds", I64),
        keep(5, "activeDeadlineSeconds", I64),
        omit(6, "dnsPolicy", Str),
        map(7, "nodeSelector", Str),
        omit(8, "serviceAccountName", Str),
        omit(9, "serviceAccount", Str),
        keep(21, "automountServiceAccountToken", Bool),
        omit(10, "nodeName", Str),
        omit(11, "hostNetwork", Bool),
        omit(12, "hostPID", Bool),
        omit(13, "hostIPC", Bool),
        keep(27, "shareProcessNamespace", Bool),
        one(14, "securityContext", Msg(&CORE_V1_POD_SECURITY_CONTEXT)),
        rep(15, "imagePullSecrets", Msg(&CORE_V1_LOCAL_OBJECT_REFERENCE)),
        omit(16, "hostname", Str),
        omit(17, "subdomain", Str),
        one(18, "affinity", Msg(&CORE_V1_AFFINITY)),
        omit(19, "schedulerName", Str),
        rep(22, "tolerations", Msg(&CORE_V1_TOLERATION)),
        rep(23, "hostAliases", Msg(&CORE_V1_HOST_ALIAS)),
        omit(24, "priorityClassName", Str),
        keep(25, "priority", I32),
        one(26, "dnsConfig", Msg(&CORE_V1_POD_DNS_CONFIG)),
        rep(28, "readinessGates", Msg(&CORE_V1_POD_READINESS_GATE)),
        keep(29, "runtimeClassName", Str),
        keep(30, "enableServiceLinks", Bool),
        keep(31, "preemptionPolicy", Str),
        map(32, "overhead", Quantity),
        rep(
            33,
            "topologySpreadConstraints",
            Msg(&CORE_V1_TOPOLOGY_SPREAD_CONSTRAINT),
        ),
        keep(35, "setHostnameAsFQDN", Bool),
        one(36, "os", Msg(&CORE_V1_POD_OS)),
        keep(37, "hostUsers", Bool),
        rep(38, "schedulingGates", Msg(&CORE_V1_POD_SCHEDULING_GATE)),
        rep(39, "resourceClaims", Msg(&CORE_V1_POD_RESOURCE_CLAIM)),
        one(40, "resources", Msg(&CORE_V1_RESOURCE_REQUIREMENTS)),
        keep(41, "hostnameOverride", Str),
        one(43, "schedulingGroup", Msg(&CORE_V1_POD_SCHEDULING_GROUP)),
        rep(44, "evictionResponders", Msg(&CORE_V1_EVICTION_RESPONDER)),
    ],
);
static CORE_V1_POD_STATUS: Message = msg(
    "core/v1.PodStatus",
    &[
        omit(17, "observedGeneration", I64),
        omit(1, "phase", Str),
        rep(2, "conditions", Msg(&CORE_V1_POD_CONDITION)),
        omit(3, "message", Str),
        omit(4, "reason", Str),
        omit(11, "nominatedNodeName", Str),
        omit(5, "hostIP", Str),
        rep(16, "hostIPs", Msg(&CORE_V1_HOST_IP)),
        omit(6, "podIP", Str),
        rep(12, "podIPs", Msg(&CORE_V1_POD_IP)),
        one(7, "startTime", Time),
        rep(10, "initContainerStatuses", Msg(&CORE_V1_CONTAINER_STATUS)),
        rep(8, "containerStatuses", Msg(&CORE_V1_CONTAINER_STATUS)),
        omit(9, "qosClass", Str),
        rep(
            13,
            "ephemeralContainerStatuses",
            Msg(&CORE_V1_CONTAINER_STATUS),
        ),
        omit(14, "resize", Str),
        rep(
            15,
            "resourceClaimStatuses",
            Msg(&CORE_V1_POD_RESOURCE_CLAIM_STATUS),
        ),
        one(
            18,
            "extendedResourceClaimStatus",
            Msg(&CORE_V1_POD_EXTENDED_RESOURCE_CLAIM_STATUS),
        ),
        map(19, "allocatedResources", Quantity),
        one(20, "resources", Msg(&CORE_V1_RESOURCE_REQUIREMENTS)),
        rep(
            21,
            "nodeAllocatableResourceClaimStatuses",
            Msg(&CORE_V1_NODE_ALLOCATABLE_RESOURCE_CLAIM_STATUS),
        ),
        rep(22, "volumeHealth", Msg(&CORE_V1_POD_VOLUME_HEALTH)),
    ],
);
static CORE_V1_POD_TEMPLATE: Message = msg(
    "core/v1.PodTemplate",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "template", Msg(&CORE_V1_POD_TEMPLATE_SPEC)),
    ],
);
static CORE_V1_POD_TEMPLATE_SPEC: Message = msg(
    "core/v1.PodTemplateSpec",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "spec", Msg(&CORE_V1_POD_SPEC)),
    ],
);
static CORE_V1_POD_VOLUME_HEALTH: Message = msg(
    "core/v1.PodVolumeHealth",
    &[
        always(1, "name", Str),
        rep(2, "healthConditions", Msg(&CORE_V1_VOLUME_HEALTH_CONDITION)),
        one(3, "lastTransitionTime", Time),
    ],
);
static CORE_V1_PORT_STATUS: Message = msg(
    "core/v1.PortStatus",
    &[
        always(1, "port", I32),
        always(2, "protocol", Str),
        keep(3, "error", Str),
    ],
);
static CORE_V1_PORTWORX_VOLUME_SOURCE: Message = msg(
    "core/v1.PortworxVolumeSource",
    &[
        always(1, "volumeID", Str),
        omit(2, "fsType", Str),
        omit(3, "readOnly", Bool),
    ],
);
static CORE_V1_PREFERRED_SCHEDULING_TERM: Message = msg(
    "core/v1.PreferredSchedulingTerm",
    &[
        always(1, "weight", I32),
        one(2, "preference", Msg(&CORE_V1_NODE_SELECTOR_TERM)),
    ],
);
static CORE_V1_PROBE: Message = msg(
    "core/v1.Probe",
    &[
        inline(1, &CORE_V1_PROBE_HANDLER),
        omit(2, "initialDelaySeconds", I32),
        omit(3, "timeoutSeconds", I32),
        omit(4, "periodSeconds", I32),
        omit(5, "successThreshold", I32),
        omit(6, "failureThreshold", I32),
        keep(7, "terminationGracePeriodSeconds", I64),
    ],
);
static CORE_V1_PROBE_HANDLER: Message = msg(
    "core/v1.ProbeHandler",
    &[
        one(1, "exec", Msg(&CORE_V1_EXEC_ACTION)),
        one(2, "httpGet", Msg(&CORE_V1_HTTP_GET_ACTION)),
        one(3, "tcpSocket", Msg(&CORE_V1_TCP_SOCKET_ACTION)),
        one(4, "grpc", Msg(&CORE_V1_GRPC_ACTION)),
    ],
);
static CORE_V1_PROJECTED_VOLUME_SOURCE: Message = msg(
    "core/v1.ProjectedVolumeSource",
    &[
        rep_or_null(1, "sources", Msg(&CORE_V1_VOLUME_PROJECTION)),
        keep(2, "defaultMode", I32),
        keep(3, "defaultUser", I64),
    ],
);
static CORE_V1_QUOBYTE_VOLUME_SOURCE: Message = msg(
    "core/v1.QuobyteVolumeSource",
    &[
        always(1, "registry", Str),
        always(2, "volume", Str),
        omit(3, "readOnly", Bool),
        omit(4, "user", Str),
        omit(5, "group", Str),
        omit(6, "tenant", Str),
    ],
);
static CORE_V1_RBD_VOLUME_SOURCE: Message = msg(
    "core/v1.RBDVolumeSource",
    &[
        rep_or_null(1, "monitors", Str),
        always(2, "image", Str),
        omit(3, "fsType", Str),
        omit(4, "pool", Str),
        omit(5, "user", Str),
        omit(6, "keyring", Str),
        one(7, "secretRef", Msg(&CORE_V1_LOCAL_OBJECT_REFERENCE)),
        omit(8, "readOnly", Bool),
    ],
);
static CORE_V1_RESOURCE_CLAIM: Message = msg(
    "core/v1.ResourceClaim",
    &[always(1, "name", Str), omit(2, "request", Str)],
);
static CORE_V1_RESOURCE_FIELD_SELECTOR: Message = msg(
    "core/v1.ResourceFieldSelector",
    &[
        omit(1, "containerName", Str),
        always(2, "resource", Str),
        one(3, "divisor", Quantity),
    ],
);
static CORE_V1_RESOURCE_HEALTH: Message = msg(
    "core/v1.ResourceHealth",
    &[
        always(1, "resourceID", Str),
        omit(2, "health", Str),
        keep(6, "message", Str),
    ],
);
static CORE_V1_RESOURCE_QUOTA: Message = msg(
    "core/v1.ResourceQuota",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "spec", Msg(&CORE_V1_RESOURCE_QUOTA_SPEC)),
        one(3, "status", Msg(&CORE_V1_RESOURCE_QUOTA_STATUS)),
    ],
);
static CORE_V1_RESOURCE_QUOTA_LIST: Message = msg(
    "core/v1.ResourceQuotaList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&CORE_V1_RESOURCE_QUOTA)),
    ],
);
static CORE_V1_RESOURCE_QUOTA_SPEC: Message = msg(
    "core/v1.ResourceQuotaSpec",
    &[
        map(1, "hard", Quantity),
        rep(2, "scopes", Str),
        one(3, "scopeSelector", Msg(&CORE_V1_SCOPE_SELECTOR)),
    ],
);
static CORE_V1_RESOURCE_QUOTA_STATUS: Message = msg(
    "core/v1.ResourceQuotaStatus",
    &[map(1, "hard", Quantity), map(2, "used", Quantity)],
);
static CORE_V1_RESOURCE_REQUIREMENTS: Message = msg(
    "core/v1.ResourceRequirements",
    &[
        map(1, "limits", Quantity),
        map(2, "requests", Quantity),
        rep(3, "claims", Msg(&CORE_V1_RESOURCE_CLAIM)),
    ],
);
static CORE_V1_RESOURCE_STATUS: Message = msg(
    "core/v1.ResourceStatus",
    &[
        always(1, "name", Str),
        rep(2, "resources", Msg(&CORE_V1_RESOURCE_HEALTH)),
    ],
);
static CORE_V1_SE_LINUX_OPTIONS: Message = msg(
    "core/v1.SELinuxOptions",
    &[
        omit(1, "user", Str),
        omit(2, "role", Str),
        omit(3, "type", Str),
        omit(4, "level", Str),
    ],
);
static CORE_V1_SCALE_IO_VOLUME_SOURCE: Message = msg(
    "core/v1.ScaleIOVolumeSource",
    &[
        always(1, "gateway", Str),
        always(2, "system", Str),
        one(3, "secretRef", Msg(&CORE_V1_LOCAL_OBJECT_REFERENCE)),
        omit(4, "sslEnabled", Bool),
        omit(5, "protectionDomain", Str),
        omit(6, "storagePool", Str),
        omit(7, "storageMode", Str),
        omit(8, "volumeName", Str),
        omit(9, "fsType", Str),
        omit(10, "readOnly", Bool),
    ],
);
static CORE_V1_SCOPE_SELECTOR: Message = msg(
    "core/v1.ScopeSelector",
    &[rep(
        1,
        "matchExpressions",
        Msg(&CORE_V1_SCOPED_RESOURCE_SELECTOR_REQUIREMENT),
    )],
);
static CORE_V1_SCOPED_RESOURCE_SELECTOR_REQUIREMENT: Message = msg(
    "core/v1.ScopedResourceSelectorRequirement",
    &[
        always(1, "scopeName", Str),
        always(2, "operator", Str),
        rep(3, "values", Str),
    ],
);
static CORE_V1_SECCOMP_PROFILE: Message = msg(
    "core/v1.SeccompProfile",
    &[always(1, "type", Str), keep(2, "localhostProfile", Str)],
);
static CORE_V1_SECRET: Message = msg(
    "core/v1.Secret",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        keep(5, "immutable", Bool),
        map(2, "data", Bytes),
        map(4, "stringData", Str),
        omit(3, "type", Str),
    ],
);
static CORE_V1_SECRET_ENV_SOURCE: Message = msg(
    "core/v1.SecretEnvSource",
    &[
        inline(1, &CORE_V1_LOCAL_OBJECT_REFERENCE),
        keep(2, "optional", Bool),
    ],
);
static CORE_V1_SECRET_KEY_SELECTOR: Message = msg(
    "core/v1.SecretKeySelector",
    &[
        inline(1, &CORE_V1_LOCAL_OBJECT_REFERENCE),
        always(2, "key", Str),
        keep(3, "optional", Bool),
    ],
);
static CORE_V1_SECRET_LIST: Message = msg(
    "core/v1.SecretList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&CORE_V1_SECRET)),
    ],
);
static CORE_V1_SECRET_PROJECTION: Message = msg(
    "core/v1.SecretProjection",
    &[
        inline(1, &CORE_V1_LOCAL_OBJECT_REFERENCE),
        rep(2, "items", Msg(&CORE_V1_KEY_TO_PATH)),
        keep(4, "optional", Bool),
    ],
);
static CORE_V1_SECRET_VOLUME_SOURCE: Message = msg(
    "core/v1.SecretVolumeSource",
    &[
        omit(1, "secretName", Str),
        rep(2, "items", Msg(&CORE_V1_KEY_TO_PATH)),
        keep(3, "defaultMode", I32),
        keep(4, "optional", Bool),
        keep(5, "defaultUser", I64),
    ],
);
static CORE_V1_SECURITY_CONTEXT: Message = msg(
    "core/v1.SecurityContext",
    &[
        one(1, "capabilities", Msg(&CORE_V1_CAPABILITIES)),
        keep(2, "privileged", Bool),
        one(3, "seLinuxOptions", Msg(&CORE_V1_SE_LINUX_OPTIONS)),
        one(
            10,
            "windowsOptions",
            Msg(&CORE_V1_WINDOWS_SECURITY_CONTEXT_OPTIONS),
        ),
        keep(4, "runAsUser", I64),
        keep(8, "runAsGroup", I64),
        keep(5, "runAsNonRoot", Bool),
        keep(6, "readOnlyRootFilesystem", Bool),
        keep(7, "allowPrivilegeEscalation", Bool),
        keep(9, "procMount", Str),
        one(11, "seccompProfile", Msg(&CORE_V1_SECCOMP_PROFILE)),
        one(12, "appArmorProfile", Msg(&CORE_V1_APP_ARMOR_PROFILE)),
    ],
);
static CORE_V1_SERVICE: Message = msg(
    "core/v1.Service",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "spec", Msg(&CORE_V1_SERVICE_SPEC)),
        one(3, "status", Msg(&CORE_V1_SERVICE_STATUS)),
    ],
);
static CORE_V1_SERVICE_ACCOUNT: Message = msg(
    "core/v1.ServiceAccount",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        rep(2, "secrets", Msg(&CORE_V1_OBJECT_REFERENCE)),
        rep(3, "imagePullSecrets", Msg(&CORE_V1_LOCAL_OBJECT_REFERENCE)),
        keep(4, "automountServiceAccountToken", Bool),
    ],
);
static CORE_V1_SERVICE_ACCOUNT_LIST: Message = msg(
    "core/v1.ServiceAccountList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&CORE_V1_SERVICE_ACCOUNT)),
    ],
);
static CORE_V1_SERVICE_ACCOUNT_TOKEN_PROJECTION: Message = msg(
    "core/v1.ServiceAccountTokenProjection",
    &[
        omit(1, "audience", Str),
        keep(2, "expirationSeconds", I64),
        always(3, "path", Str),
        keep(4, "user", I64),
    ],
);
static CORE_V1_SERVICE_LIST: Message = msg(
    "core/v1.ServiceList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&CORE_V1_SERVICE)),
    ],
);
static CORE_V1_SERVICE_PORT: Message = msg(
    "core/v1.ServicePort",
    &[
        omit(1, "name", Str),
        omit(2, "protocol", Str),
        keep(6, "appProtocol", Str),
        always(3, "port", I32),
        one(4, "targetPort", IntOrString),
        omit(5, "nodePort", I32),
    ],
);
static CORE_V1_SERVICE_SPEC: Message = msg(
    "core/v1.ServiceSpec",
    &[
        rep(1, "ports", Msg(&CORE_V1_SERVICE_PORT)),
        map(2, "selector", Str),
        omit(3, "clusterIP", Str),
        rep(18, "clusterIPs", Str),
        omit(4, "type", Str),
        rep(5, "externalIPs", Str),
        omit(7, "sessionAffinity", Str),
        omit(8, "loadBalancerIP", Str),
        rep(9, "loadBalancerSourceRanges", Str),
        omit(10, "externalName", Str),
        omit(11, "externalTrafficPolicy", Str),
        omit(12, "healthCheckNodePort", I32),
        omit(13, "publishNotReadyAddresses", Bool),
        one(
            14,
            "sessionAffinityConfig",
            Msg(&CORE_V1_SESSION_AFFINITY_CONFIG),
        ),
        rep(19, "ipFamilies", Str),
        keep(17, "ipFamilyPolicy", Str),
        keep(20, "allocateLoadBalancerNodePorts", Bool),
        keep(21, "loadBalancerClass", Str),
        keep(22, "internalTrafficPolicy", Str),
        keep(23, "trafficDistribution", Str),
    ],
);
static CORE_V1_SERVICE_STATUS: Message = msg(
    "core/v1.ServiceStatus",
    &[
        one(1, "loadBalancer", Msg(&CORE_V1_LOAD_BALANCER_STATUS)),
        rep(2, "conditions", Msg(&META_V1_CONDITION)),
    ],
);
static CORE_V1_SESSION_AFFINITY_CONFIG: Message = msg(
    "core/v1.SessionAffinityConfig",
    &[one(1, "clientIP", Msg(&CORE_V1_CLIENT_IP_CONFIG))],
);
static CORE_V1_SLEEP_ACTION: Message = msg("core/v1.SleepAction", &[always(1, "seconds", I64)]);
static CORE_V1_STORAGE_OS_VOLUME_SOURCE: Message = msg(
    "core/v1.StorageOSVolumeSource",
    &[
        omit(1, "volumeName", Str),
        omit(2, "volumeNamespace", Str),
        omit(3, "fsType", Str),
        omit(4, "readOnly", Bool),
        one(5, "secretRef", Msg(&CORE_V1_LOCAL_OBJECT_REFERENCE)),
    ],
);
static CORE_V1_SYSCTL: Message = msg(
    "core/v1.Sysctl",
    &[always(1, "name", Str), always(2, "value", Str)],
);
static CORE_V1_TCP_SOCKET_ACTION: Message = msg(
    "core/v1.TCPSocketAction",
    &[one(1, "port", IntOrString), omit(2, "host", Str)],
);
static CORE_V1_TAINT: Message = msg(
    "core/v1.Taint",
    &[
        always(1, "key", Str),
        omit(2, "value", Str),
        always(3, "effect", Str),
        one(4, "timeAdded", Time),
    ],
);
static CORE_V1_TOLERATION: Message = msg(
    "core/v1.Toleration",
    &[
        omit(1, "key", Str),
        omit(2, "operator", Str),
        omit(3, "value", Str),
        omit(4, "effect", Str),
        keep(5, "tolerationSeconds", I64),
    ],
);
static CORE_V1_TOPOLOGY_SPREAD_CONSTRAINT: Message = msg(
    "core/v1.TopologySpreadConstraint",
    &[
        always(1, "maxSkew", I32),
        always(2, "topologyKey", Str),
        always(3, "whenUnsatisfiable", Str),
        one(4, "labelSelector", Msg(&META_V1_LABEL_SELECTOR)),
        keep(5, "minDomains", I32),
        keep(6, "nodeAffinityPolicy", Str),
        keep(7, "nodeTaintsPolicy", Str),
        rep(8, "matchLabelKeys", Str),
    ],
);
static CORE_V1_TYPED_LOCAL_OBJECT_REFERENCE: Message = msg(
    "core/v1.TypedLocalObjectReference",
    &[
        keep(1, "apiGroup", Str),
        always(2, "kind", Str),
        always(3, "name", Str),
    ],
);
static CORE_V1_TYPED_OBJECT_REFERENCE: Message = msg(
    "core/v1.TypedObjectReference",
    &[
        keep(1, "apiGroup", Str),
        always(2, "kind", Str),
        always(3, "name", Str),
        keep(4, "namespace", Str),
    ],
);
static CORE_V1_VOLUME: Message = msg(
    "core/v1.Volume",
    &[always(1, "name", Str), inline(2, &CORE_V1_VOLUME_SOURCE)],
);
static CORE_V1_VOLUME_DEVICE: Message = msg(
    "core/v1.VolumeDevice",
    &[always(1, "name", Str), always(2, "devicePath", Str)],
);
static CORE_V1_VOLUME_HEALTH_CONDITION: Message = msg(
    "core/v1.VolumeHealthCondition",
    &[
        always(1, "status", Str),
        always(2, "reason", Str),
        omit(3, "message", Str),
    ],
);
static CORE_V1_VOLUME_HEALTH_STATUS: Message = msg(
    "core/v1.VolumeHealthStatus",
    &[
        rep(1, "healthConditions", Msg(&CORE_V1_VOLUME_HEALTH_CONDITION)),
        one(2, "lastTransitionTime", Time),
    ],
);
static CORE_V1_VOLUME_MOUNT: Message = msg(
    "core/v1.VolumeMount",
    &[
        always(1, "name", Str),
        omit(2, "readOnly", Bool),
        keep(7, "recursiveReadOnly", Str),
        always(3, "mountPath", Str),
        omit(4, "subPath", Str),
        keep(5, "mountPropagation", Str),
        omit(6, "subPathExpr", Str),
        rep(8, "bindMountOptions", Str),
    ],
);
static CORE_V1_VOLUME_MOUNT_STATUS: Message = msg(
    "core/v1.VolumeMountStatus",
    &[
        always(1, "name", Str),
        always(2, "mountPath", Str),
        omit(3, "readOnly", Bool),
        keep(4, "recursiveReadOnly", Str),
        one(5, "volumeStatus", Msg(&CORE_V1_VOLUME_STATUS)),
    ],
);
static CORE_V1_VOLUME_PROJECTION: Message = msg(
    "core/v1.VolumeProjection",
    &[
        one(1, "secret", Msg(&CORE_V1_SECRET_PROJECTION)),
        one(2, "downwardAPI", Msg(&CORE_V1_DOWNWARD_API_PROJECTION)),
        one(3, "configMap", Msg(&CORE_V1_CONFIG_MAP_PROJECTION)),
        one(
            4,
            "serviceAccountToken",
            Msg(&CORE_V1_SERVICE_ACCOUNT_TOKEN_PROJECTION),
        ),
        one(
            5,
            "clusterTrustBundle",
            Msg(&CORE_V1_CLUSTER_TRUST_BUNDLE_PROJECTION),
        ),
        one(
            6,
            "podCertificate",
            Msg(&CORE_V1_POD_CERTIFICATE_PROJECTION),
        ),
    ],
);
static CORE_V1_VOLUME_RESOURCE_REQUIREMENTS: Message = msg(
    "core/v1.VolumeResourceRequirements",
    &[map(1, "limits", Quantity), map(2, "requests", Quantity)],
);
static CORE_V1_VOLUME_SOURCE: Message = msg(
    "core/v1.VolumeSource",
    &[
        one(1, "hostPath", Msg(&CORE_V1_HOST_PATH_VOLUME_SOURCE)),
        one(2, "emptyDir", Msg(&CORE_V1_EMPTY_DIR_VOLUME_SOURCE)),
        one(
            3,
            "gcePersistentDisk",
            Msg(&CORE_V1_GCE_PERSISTENT_DISK_VOLUME_SOURCE),
        ),
        one(
            4,
            "awsElasticBlockStore",
            Msg(&CORE_V1_AWS_ELASTIC_BLOCK_STORE_VOLUME_SOURCE),
        ),
        one(5, "gitRepo", Msg(&CORE_V1_GIT_REPO_VOLUME_SOURCE)),
        one(6, "secret", Msg(&CORE_V1_SECRET_VOLUME_SOURCE)),
        one(7, "nfs", Msg(&CORE_V1_NFS_VOLUME_SOURCE)),
        one(8, "iscsi", Msg(&CORE_V1_ISCSI_VOLUME_SOURCE)),
        one(9, "glusterfs", Msg(&CORE_V1_GLUSTERFS_VOLUME_SOURCE)),
        one(
            10,
            "persistentVolumeClaim",
            Msg(&CORE_V1_PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE),
        ),
        one(11, "rbd", Msg(&CORE_V1_RBD_VOLUME_SOURCE)),
        one(12, "flexVolume", Msg(&CORE_V1_FLEX_VOLUME_SOURCE)),
        one(13, "cinder", Msg(&CORE_V1_CINDER_VOLUME_SOURCE)),
        one(14, "cephfs", Msg(&CORE_V1_CEPH_FS_VOLUME_SOURCE)),
        one(15, "flocker", Msg(&CORE_V1_FLOCKER_VOLUME_SOURCE)),
        one(16, "downwardAPI", Msg(&CORE_V1_DOWNWARD_API_VOLUME_SOURCE)),
        one(17, "fc", Msg(&CORE_V1_FC_VOLUME_SOURCE)),
        one(18, "azureFile", Msg(&CORE_V1_AZURE_FILE_VOLUME_SOURCE)),
        one(19, "configMap", Msg(&CORE_V1_CONFIG_MAP_VOLUME_SOURCE)),
        one(
            20,
            "vsphereVolume",
            Msg(&CORE_V1_VSPHERE_VIRTUAL_DISK_VOLUME_SOURCE),
        ),
        one(21, "quobyte", Msg(&CORE_V1_QUOBYTE_VOLUME_SOURCE)),
        one(22, "azureDisk", Msg(&CORE_V1_AZURE_DISK_VOLUME_SOURCE)),
        one(
            23,
            "photonPersistentDisk",
            Msg(&CORE_V1_PHOTON_PERSISTENT_DISK_VOLUME_SOURCE),
        ),
        one(26, "projected", Msg(&CORE_V1_PROJECTED_VOLUME_SOURCE)),
        one(24, "portworxVolume", Msg(&CORE_V1_PORTWORX_VOLUME_SOURCE)),
        one(25, "scaleIO", Msg(&CORE_V1_SCALE_IO_VOLUME_SOURCE)),
        one(27, "storageos", Msg(&CORE_V1_STORAGE_OS_VOLUME_SOURCE)),
        one(28, "csi", Msg(&CORE_V1_CSI_VOLUME_SOURCE)),
        one(29, "ephemeral", Msg(&CORE_V1_EPHEMERAL_VOLUME_SOURCE)),
        one(30, "image", Msg(&CORE_V1_IMAGE_VOLUME_SOURCE)),
    ],
);
static CORE_V1_VOLUME_STATUS: Message = msg(
    "core/v1.VolumeStatus",
    &[one(1, "image", Msg(&CORE_V1_IMAGE_VOLUME_STATUS))],
);
static CORE_V1_VSPHERE_VIRTUAL_DISK_VOLUME_SOURCE: Message = msg(
    "core/v1.VsphereVirtualDiskVolumeSource",
    &[
        always(1, "volumePath", Str),
        omit(2, "fsType", Str),
        omit(3, "storagePolicyName", Str),
        omit(4, "storagePolicyID", Str),
    ],
);
static CORE_V1_WEIGHTED_POD_AFFINITY_TERM: Message = msg(
    "core/v1.WeightedPodAffinityTerm",
    &[
        always(1, "weight", I32),
        one(2, "podAffinityTerm", Msg(&CORE_V1_POD_AFFINITY_TERM)),
    ],
);
static CORE_V1_WINDOWS_SECURITY_CONTEXT_OPTIONS: Message = msg(
    "core/v1.WindowsSecurityContextOptions",
    &[
        keep(1, "gmsaCredentialSpecName", Str),
        keep(2, "gmsaCredentialSpec", Str),
        keep(3, "runAsUserName", Str),
        keep(4, "hostProcess", Bool),
    ],
);
static DISCOVERY_V1_ENDPOINT: Message = msg(
    "discovery/v1.Endpoint",
    &[
        rep_or_null(1, "addresses", Str),
        one(2, "conditions", Msg(&DISCOVERY_V1_ENDPOINT_CONDITIONS)),
        keep(3, "hostname", Str),
        one(4, "targetRef", Msg(&CORE_V1_OBJECT_REFERENCE)),
        map(5, "deprecatedTopology", Str),
        keep(6, "nodeName", Str),
        keep(7, "zone", Str),
        one(8, "hints", Msg(&DISCOVERY_V1_ENDPOINT_HINTS)),
    ],
);
static DISCOVERY_V1_ENDPOINT_CONDITIONS: Message = msg(
    "discovery/v1.EndpointConditions",
    &[
        keep(1, "ready", Bool),
        keep(2, "serving", Bool),
        keep(3, "terminating", Bool),
    ],
);
static DISCOVERY_V1_ENDPOINT_HINTS: Message = msg(
    "discovery/v1.EndpointHints",
    &[
        rep(1, "forZones", Msg(&DISCOVERY_V1_FOR_ZONE)),
        rep(2, "forNodes", Msg(&DISCOVERY_V1_FOR_NODE)),
    ],
);
static DISCOVERY_V1_ENDPOINT_PORT: Message = msg(
    "discovery/v1.EndpointPort",
    &[
        keep(1, "name", Str),
        keep(2, "protocol", Str),
        keep(3, "port", I32),
        keep(4, "appProtocol", Str),
    ],
);
static DISCOVERY_V1_ENDPOINT_SLICE: Message = msg(
    "discovery/v1.EndpointSlice",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        always(4, "addressType", Str),
        rep_or_null(2, "endpoints", Msg(&DISCOVERY_V1_ENDPOINT)),
        rep_or_null(3, "ports", Msg(&DISCOVERY_V1_ENDPOINT_PORT)),
    ],
);
static DISCOVERY_V1_ENDPOINT_SLICE_LIST: Message = msg(
    "discovery/v1.EndpointSliceList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&DISCOVERY_V1_ENDPOINT_SLICE)),
    ],
);
static DISCOVERY_V1_FOR_NODE: Message = msg("discovery/v1.ForNode", &[always(1, "name", Str)]);
static DISCOVERY_V1_FOR_ZONE: Message = msg("discovery/v1.ForZone", &[always(1, "name", Str)]);
static EVENTS_V1_EVENT: Message = msg(
    "events/v1.Event",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "eventTime", MicroTime),
        one(3, "series", Msg(&EVENTS_V1_EVENT_SERIES)),
        omit(4, "reportingController", Str),
        omit(5, "reportingInstance", Str),
        omit(6, "action", Str),
        omit(7, "reason", Str),
        one(8, "regarding", Msg(&CORE_V1_OBJECT_REFERENCE)),
        one(9, "related", Msg(&CORE_V1_OBJECT_REFERENCE)),
        omit(10, "note", Str),
        omit(11, "type", Str),
        one(12, "deprecatedSource", Msg(&CORE_V1_EVENT_SOURCE)),
        one(13, "deprecatedFirstTimestamp", Time),
        one(14, "deprecatedLastTimestamp", Time),
        omit(15, "deprecatedCount", I32),
    ],
);
static EVENTS_V1_EVENT_SERIES: Message = msg(
    "events/v1.EventSeries",
    &[
        always(1, "count", I32),
        one(2, "lastObservedTime", MicroTime),
    ],
);
static META_V1_CONDITION: Message = msg(
    "meta/v1.Condition",
    &[
        always(1, "type", Str),
        always(2, "status", Str),
        omit(3, "observedGeneration", I64),
        one(4, "lastTransitionTime", Time),
        always(5, "reason", Str),
        always(6, "message", Str),
    ],
);
static META_V1_DELETE_OPTIONS: Message = msg(
    "meta/v1.DeleteOptions",
    &[
        keep(1, "gracePeriodSeconds", I64),
        one(2, "preconditions", Msg(&META_V1_PRECONDITIONS)),
        keep(3, "orphanDependents", Bool),
        keep(4, "propagationPolicy", Str),
        rep(5, "dryRun", Str),
        keep(6, "ignoreStoreReadErrorWithClusterBreakingPotential", Bool),
    ],
);
static META_V1_FIELD_SELECTOR_REQUIREMENT: Message = msg(
    "meta/v1.FieldSelectorRequirement",
    &[
        always(1, "key", Str),
        always(2, "operator", Str),
        rep(3, "values", Str),
    ],
);
static META_V1_LABEL_SELECTOR: Message = msg(
    "meta/v1.LabelSelector",
    &[
        map(1, "matchLabels", Str),
        rep(
            2,
            "matchExpressions",
            Msg(&META_V1_LABEL_SELECTOR_REQUIREMENT),
        ),
    ],
);
static META_V1_LABEL_SELECTOR_REQUIREMENT: Message = msg(
    "meta/v1.LabelSelectorRequirement",
    &[
        always(1, "key", Str),
        always(2, "operator", Str),
        rep(3, "values", Str),
    ],
);
static META_V1_LIST_META: Message = msg(
    "meta/v1.ListMeta",
    &[
        omit(1, "selfLink", Str),
        omit(2, "resourceVersion", Str),
        omit(3, "continue", Str),
        keep(4, "remainingItemCount", I64),
        one(5, "shardInfo", Msg(&META_V1_SHARD_INFO)),
    ],
);
static META_V1_MANAGED_FIELDS_ENTRY: Message = msg(
    "meta/v1.ManagedFieldsEntry",
    &[
        omit(1, "manager", Str),
        omit(2, "operation", Str),
        omit(3, "apiVersion", Str),
        one(4, "time", Time),
        omit(6, "fieldsType", Str),
        one(7, "fieldsV1", RawJson),
        omit(8, "subresource", Str),
    ],
);
static META_V1_OBJECT_META: Message = msg(
    "meta/v1.ObjectMeta",
    &[
        omit(1, "name", Str),
        omit(2, "generateName", Str),
        omit(3, "namespace", Str),
        omit(4, "selfLink", Str),
        omit(5, "uid", Str),
        omit(6, "resourceVersion", Str),
        omit(7, "generation", I64),
        one(8, "creationTimestamp", Time),
        one(9, "deletionTimestamp", Time),
        keep(10, "deletionGracePeriodSeconds", I64),
        map(11, "labels", Str),
        map(12, "annotations", Str),
        rep(13, "ownerReferences", Msg(&META_V1_OWNER_REFERENCE)),
        rep(14, "finalizers", Str),
        rep(17, "managedFields", Msg(&META_V1_MANAGED_FIELDS_ENTRY)),
    ],
);
static META_V1_OWNER_REFERENCE: Message = msg(
    "meta/v1.OwnerReference",
    &[
        always(5, "apiVersion", Str),
        always(1, "kind", Str),
        always(3, "name", Str),
        always(4, "uid", Str),
        keep(6, "controller", Bool),
        keep(7, "blockOwnerDeletion", Bool),
    ],
);
static META_V1_PRECONDITIONS: Message = msg(
    "meta/v1.Preconditions",
    &[keep(1, "uid", Str), keep(2, "resourceVersion", Str)],
);
static META_V1_SHARD_INFO: Message = msg("meta/v1.ShardInfo", &[always(1, "selector", Str)]);
static META_V1_STATUS: Message = msg(
    "meta/v1.Status",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        omit(2, "status", Str),
        omit(3, "message", Str),
        omit(4, "reason", Str),
        one(5, "details", Msg(&META_V1_STATUS_DETAILS)),
        omit(6, "code", I32),
    ],
);
static META_V1_STATUS_CAUSE: Message = msg(
    "meta/v1.StatusCause",
    &[
        omit(1, "reason", Str),
        omit(2, "message", Str),
        omit(3, "field", Str),
    ],
);
static META_V1_STATUS_DETAILS: Message = msg(
    "meta/v1.StatusDetails",
    &[
        omit(1, "name", Str),
        omit(2, "group", Str),
        omit(3, "kind", Str),
        omit(6, "uid", Str),
        rep(4, "causes", Msg(&META_V1_STATUS_CAUSE)),
        omit(5, "retryAfterSeconds", I32),
    ],
);
static NETWORKING_V1_HTTP_INGRESS_PATH: Message = msg(
    "networking/v1.HTTPIngressPath",
    &[
        omit(1, "path", Str),
        keep(3, "pathType", Str),
        one(2, "backend", Msg(&NETWORKING_V1_INGRESS_BACKEND)),
    ],
);
static NETWORKING_V1_HTTP_INGRESS_RULE_VALUE: Message = msg(
    "networking/v1.HTTPIngressRuleValue",
    &[rep_or_null(
        1,
        "paths",
        Msg(&NETWORKING_V1_HTTP_INGRESS_PATH),
    )],
);
static NETWORKING_V1_IP_BLOCK: Message = msg(
    "networking/v1.IPBlock",
    &[always(1, "cidr", Str), rep(2, "except", Str)],
);
static NETWORKING_V1_INGRESS: Message = msg(
    "networking/v1.Ingress",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "spec", Msg(&NETWORKING_V1_INGRESS_SPEC)),
        one(3, "status", Msg(&NETWORKING_V1_INGRESS_STATUS)),
    ],
);
static NETWORKING_V1_INGRESS_BACKEND: Message = msg(
    "networking/v1.IngressBackend",
    &[
        one(4, "service", Msg(&NETWORKING_V1_INGRESS_SERVICE_BACKEND)),
        one(3, "resource", Msg(&CORE_V1_TYPED_LOCAL_OBJECT_REFERENCE)),
    ],
);
static NETWORKING_V1_INGRESS_CLASS: Message = msg(
    "networking/v1.IngressClass",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "spec", Msg(&NETWORKING_V1_INGRESS_CLASS_SPEC)),
    ],
);
static NETWORKING_V1_INGRESS_CLASS_PARAMETERS_REFERENCE: Message = msg(
    "networking/v1.IngressClassParametersReference",
    &[
        keep(1, "apiGroup", Str),
        always(2, "kind", Str),
        always(3, "name", Str),
        keep(4, "scope", Str),
        keep(5, "namespace", Str),
    ],
);
static NETWORKING_V1_INGRESS_CLASS_SPEC: Message = msg(
    "networking/v1.IngressClassSpec",
    &[
        omit(1, "controller", Str),
        one(
            2,
            "parameters",
            Msg(&NETWORKING_V1_INGRESS_CLASS_PARAMETERS_REFERENCE),
        ),
    ],
);
static NETWORKING_V1_INGRESS_LIST: Message = msg(
    "networking/v1.IngressList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&NETWORKING_V1_INGRESS)),
    ],
);
static NETWORKING_V1_INGRESS_LOAD_BALANCER_INGRESS: Message = msg(
    "networking/v1.IngressLoadBalancerIngress",
    &[
        omit(1, "ip", Str),
        omit(2, "hostname", Str),
        rep(4, "ports", Msg(&NETWORKING_V1_INGRESS_PORT_STATUS)),
    ],
);
static NETWORKING_V1_INGRESS_LOAD_BALANCER_STATUS: Message = msg(
    "networking/v1.IngressLoadBalancerStatus",
    &[rep(
        1,
        "ingress",
        Msg(&NETWORKING_V1_INGRESS_LOAD_BALANCER_INGRESS),
    )],
);
static NETWORKING_V1_INGRESS_PORT_STATUS: Message = msg(
    "networking/v1.IngressPortStatus",
    &[
        always(1, "port", I32),
        always(2, "protocol", Str),
        keep(3, "error", Str),
    ],
);
static NETWORKING_V1_INGRESS_RULE: Message = msg(
    "networking/v1.IngressRule",
    &[
        omit(1, "host", Str),
        inline(2, &NETWORKING_V1_INGRESS_RULE_VALUE),
    ],
);
static NETWORKING_V1_INGRESS_RULE_VALUE: Message = msg(
    "networking/v1.IngressRuleValue",
    &[one(1, "http", Msg(&NETWORKING_V1_HTTP_INGRESS_RULE_VALUE))],
);
static NETWORKING_V1_INGRESS_SERVICE_BACKEND: Message = msg(
    "networking/v1.IngressServiceBackend",
    &[
        always(1, "name", Str),
        one(2, "port", Msg(&NETWORKING_V1_SERVICE_BACKEND_PORT)),
    ],
);
static NETWORKING_V1_INGRESS_SPEC: Message = msg(
    "networking/v1.IngressSpec",
    &[
        keep(4, "ingressClassName", Str),
        one(1, "defaultBackend", Msg(&NETWORKING_V1_INGRESS_BACKEND)),
        rep(2, "tls", Msg(&NETWORKING_V1_INGRESS_TLS)),
        rep(3, "rules", Msg(&NETWORKING_V1_INGRESS_RULE)),
    ],
);
static NETWORKING_V1_INGRESS_STATUS: Message = msg(
    "networking/v1.IngressStatus",
    &[one(
        1,
        "loadBalancer",
        Msg(&NETWORKING_V1_INGRESS_LOAD_BALANCER_STATUS),
    )],
);
static NETWORKING_V1_INGRESS_TLS: Message = msg(
    "networking/v1.IngressTLS",
    &[rep(1, "hosts", Str), omit(2, "secretName", Str)],
);
static NETWORKING_V1_NETWORK_POLICY: Message = msg(
    "networking/v1.NetworkPolicy",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "spec", Msg(&NETWORKING_V1_NETWORK_POLICY_SPEC)),
    ],
);
static NETWORKING_V1_NETWORK_POLICY_EGRESS_RULE: Message = msg(
    "networking/v1.NetworkPolicyEgressRule",
    &[
        rep(1, "ports", Msg(&NETWORKING_V1_NETWORK_POLICY_PORT)),
        rep(2, "to", Msg(&NETWORKING_V1_NETWORK_POLICY_PEER)),
    ],
);
static NETWORKING_V1_NETWORK_POLICY_INGRESS_RULE: Message = msg(
    "networking/v1.NetworkPolicyIngressRule",
    &[
        rep(1, "ports", Msg(&NETWORKING_V1_NETWORK_POLICY_PORT)),
        rep(2, "from", Msg(&NETWORKING_V1_NETWORK_POLICY_PEER)),
    ],
);
static NETWORKING_V1_NETWORK_POLICY_PEER: Message = msg(
    "networking/v1.NetworkPolicyPeer",
    &[
        one(1, "podSelector", Msg(&META_V1_LABEL_SELECTOR)),
        one(2, "namespaceSelector", Msg(&META_V1_LABEL_SELECTOR)),
        one(3, "ipBlock", Msg(&NETWORKING_V1_IP_BLOCK)),
    ],
);
static NETWORKING_V1_NETWORK_POLICY_PORT: Message = msg(
    "networking/v1.NetworkPolicyPort",
    &[
        keep(1, "protocol", Str),
        one(2, "port", IntOrString),
        keep(3, "endPort", I32),
    ],
);
static NETWORKING_V1_NETWORK_POLICY_SPEC: Message = msg(
    "networking/v1.NetworkPolicySpec",
    &[
        one(1, "podSelector", Msg(&META_V1_LABEL_SELECTOR)),
        rep(
            2,
            "ingress",
            Msg(&NETWORKING_V1_NETWORK_POLICY_INGRESS_RULE),
        ),
        rep(3, "egress", Msg(&NETWORKING_V1_NETWORK_POLICY_EGRESS_RULE)),
        rep(4, "policyTypes", Str),
    ],
);
static NETWORKING_V1_SERVICE_BACKEND_PORT: Message = msg(
    "networking/v1.ServiceBackendPort",
    &[omit(1, "name", Str), omit(2, "number", I32)],
);
static POLICY_V1_EVICTION: Message = msg(
    "policy/v1.Eviction",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "deleteOptions", Msg(&META_V1_DELETE_OPTIONS)),
    ],
);
static POLICY_V1_POD_DISRUPTION_BUDGET: Message = msg(
    "policy/v1.PodDisruptionBudget",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        one(2, "spec", Msg(&POLICY_V1_POD_DISRUPTION_BUDGET_SPEC)),
        one(3, "status", Msg(&POLICY_V1_POD_DISRUPTION_BUDGET_STATUS)),
    ],
);
static POLICY_V1_POD_DISRUPTION_BUDGET_LIST: Message = msg(
    "policy/v1.PodDisruptionBudgetList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&POLICY_V1_POD_DISRUPTION_BUDGET)),
    ],
);
static POLICY_V1_POD_DISRUPTION_BUDGET_SPEC: Message = msg(
    "policy/v1.PodDisruptionBudgetSpec",
    &[
        one(1, "minAvailable", IntOrString),
        one(2, "selector", Msg(&META_V1_LABEL_SELECTOR)),
        one(3, "maxUnavailable", IntOrString),
        keep(4, "unhealthyPodEvictionPolicy", Str),
    ],
);
static POLICY_V1_POD_DISRUPTION_BUDGET_STATUS: Message = msg(
    "policy/v1.PodDisruptionBudgetStatus",
    &[
        omit(1, "observedGeneration", I64),
        map(2, "disruptedPods", Time),
        always(3, "disruptionsAllowed", I32),
        always(4, "currentHealthy", I32),
        always(5, "desiredHealthy", I32),
        always(6, "expectedPods", I32),
        rep(7, "conditions", Msg(&META_V1_CONDITION)),
    ],
);
static RBAC_V1_AGGREGATION_RULE: Message = msg(
    "rbac/v1.AggregationRule",
    &[rep(1, "clusterRoleSelectors", Msg(&META_V1_LABEL_SELECTOR))],
);
static RBAC_V1_CLUSTER_ROLE: Message = msg(
    "rbac/v1.ClusterRole",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        rep_or_null(2, "rules", Msg(&RBAC_V1_POLICY_RULE)),
        one(3, "aggregationRule", Msg(&RBAC_V1_AGGREGATION_RULE)),
    ],
);
static RBAC_V1_CLUSTER_ROLE_BINDING: Message = msg(
    "rbac/v1.ClusterRoleBinding",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        rep(2, "subjects", Msg(&RBAC_V1_SUBJECT)),
        one(3, "roleRef", Msg(&RBAC_V1_ROLE_REF)),
    ],
);
static RBAC_V1_CLUSTER_ROLE_BINDING_LIST: Message = msg(
    "rbac/v1.ClusterRoleBindingList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&RBAC_V1_CLUSTER_ROLE_BINDING)),
    ],
);
static RBAC_V1_CLUSTER_ROLE_LIST: Message = msg(
    "rbac/v1.ClusterRoleList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&RBAC_V1_CLUSTER_ROLE)),
    ],
);
static RBAC_V1_POLICY_RULE: Message = msg(
    "rbac/v1.PolicyRule",
    &[
        rep_or_null(1, "verbs", Str),
        rep(2, "apiGroups", Str),
        rep(3, "resources", Str),
        rep(4, "resourceNames", Str),
        rep(5, "nonResourceURLs", Str),
    ],
);
static RBAC_V1_ROLE: Message = msg(
    "rbac/v1.Role",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        rep_or_null(2, "rules", Msg(&RBAC_V1_POLICY_RULE)),
    ],
);
static RBAC_V1_ROLE_BINDING: Message = msg(
    "rbac/v1.RoleBinding",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        rep(2, "subjects", Msg(&RBAC_V1_SUBJECT)),
        one(3, "roleRef", Msg(&RBAC_V1_ROLE_REF)),
    ],
);
static RBAC_V1_ROLE_BINDING_LIST: Message = msg(
    "rbac/v1.RoleBindingList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&RBAC_V1_ROLE_BINDING)),
    ],
);
static RBAC_V1_ROLE_LIST: Message = msg(
    "rbac/v1.RoleList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&RBAC_V1_ROLE)),
    ],
);
static RBAC_V1_ROLE_REF: Message = msg(
    "rbac/v1.RoleRef",
    &[
        always(1, "apiGroup", Str),
        always(2, "kind", Str),
        always(3, "name", Str),
    ],
);
static RBAC_V1_SUBJECT: Message = msg(
    "rbac/v1.Subject",
    &[
        always(1, "kind", Str),
        omit(2, "apiGroup", Str),
        always(3, "name", Str),
        omit(4, "namespace", Str),
    ],
);
static SCHEDULING_V1_PRIORITY_CLASS: Message = msg(
    "scheduling/v1.PriorityClass",
    &[
        one(1, "metadata", Msg(&META_V1_OBJECT_META)),
        always(2, "value", I32),
        omit(3, "globalDefault", Bool),
        omit(4, "description", Str),
        keep(5, "preemptionPolicy", Str),
    ],
);
static SCHEDULING_V1_PRIORITY_CLASS_LIST: Message = msg(
    "scheduling/v1.PriorityClassList",
    &[
        one(1, "metadata", Msg(&META_V1_LIST_META)),
        rep_or_null(2, "items", Msg(&SCHEDULING_V1_PRIORITY_CLASS)),
    ],
);

/// Every top-level kind: (apiVersion, kind, message).
pub(crate) static KINDS: &[(&str, &str, &Message)] = &[
    ("v1", "Pod", &CORE_V1_POD),
    ("v1", "PodList", &CORE_V1_POD_LIST),
    ("v1", "Service", &CORE_V1_SERVICE),
    ("v1", "ServiceList", &CORE_V1_SERVICE_LIST),
    ("v1", "Namespace", &CORE_V1_NAMESPACE),
    ("v1", "NamespaceList", &CORE_V1_NAMESPACE_LIST),
    ("v1", "ConfigMap", &CORE_V1_CONFIG_MAP),
    ("v1", "ConfigMapList", &CORE_V1_CONFIG_MAP_LIST),
    ("v1", "Secret", &CORE_V1_SECRET),
    ("v1", "SecretList", &CORE_V1_SECRET_LIST),
    ("v1", "ServiceAccount", &CORE_V1_SERVICE_ACCOUNT),
    ("v1", "ServiceAccountList", &CORE_V1_SERVICE_ACCOUNT_LIST),
    ("v1", "Binding", &CORE_V1_BINDING),
    ("v1", "Node", &CORE_V1_NODE),
    ("v1", "NodeList", &CORE_V1_NODE_LIST),
    ("v1", "Endpoints", &CORE_V1_ENDPOINTS),
    ("v1", "EndpointsList", &CORE_V1_ENDPOINTS_LIST),
    ("v1", "Event", &CORE_V1_EVENT),
    ("v1", "EventList", &CORE_V1_EVENT_LIST),
    ("v1", "ResourceQuota", &CORE_V1_RESOURCE_QUOTA),
    ("v1", "ResourceQuotaList", &CORE_V1_RESOURCE_QUOTA_LIST),
    (
        "v1",
        "PersistentVolumeClaim",
        &CORE_V1_PERSISTENT_VOLUME_CLAIM,
    ),
    (
        "v1",
        "PersistentVolumeClaimList",
        &CORE_V1_PERSISTENT_VOLUME_CLAIM_LIST,
    ),
    ("v1", "PodTemplate", &CORE_V1_POD_TEMPLATE),
    ("v1", "LimitRange", &CORE_V1_LIMIT_RANGE),
    ("apps/v1", "Deployment", &APPS_V1_DEPLOYMENT),
    ("apps/v1", "DeploymentList", &APPS_V1_DEPLOYMENT_LIST),
    ("apps/v1", "ReplicaSet", &APPS_V1_REPLICA_SET),
    ("apps/v1", "ReplicaSetList", &APPS_V1_REPLICA_SET_LIST),
    ("apps/v1", "DaemonSet", &APPS_V1_DAEMON_SET),
    ("apps/v1", "DaemonSetList", &APPS_V1_DAEMON_SET_LIST),
    ("apps/v1", "StatefulSet", &APPS_V1_STATEFUL_SET),
    ("apps/v1", "StatefulSetList", &APPS_V1_STATEFUL_SET_LIST),
    (
        "apps/v1",
        "ControllerRevision",
        &APPS_V1_CONTROLLER_REVISION,
    ),
    ("coordination.k8s.io/v1", "Lease", &COORDINATION_V1_LEASE),
    (
        "coordination.k8s.io/v1",
        "LeaseList",
        &COORDINATION_V1_LEASE_LIST,
    ),
    (
        "discovery.k8s.io/v1",
        "EndpointSlice",
        &DISCOVERY_V1_ENDPOINT_SLICE,
    ),
    (
        "discovery.k8s.io/v1",
        "EndpointSliceList",
        &DISCOVERY_V1_ENDPOINT_SLICE_LIST,
    ),
    ("policy/v1", "Eviction", &POLICY_V1_EVICTION),
    (
        "policy/v1",
        "PodDisruptionBudget",
        &POLICY_V1_POD_DISRUPTION_BUDGET,
    ),
    (
        "policy/v1",
        "PodDisruptionBudgetList",
        &POLICY_V1_POD_DISRUPTION_BUDGET_LIST,
    ),
    (
        "authentication.k8s.io/v1",
        "TokenRequest",
        &AUTHENTICATION_V1_TOKEN_REQUEST,
    ),
    (
        "authentication.k8s.io/v1",
        "SelfSubjectReview",
        &AUTHENTICATION_V1_SELF_SUBJECT_REVIEW,
    ),
    (
        "authentication.k8s.io/v1",
        "TokenReview",
        &AUTHENTICATION_V1_TOKEN_REVIEW,
    ),
    (
        "authorization.k8s.io/v1",
        "SelfSubjectAccessReview",
        &AUTHORIZATION_V1_SELF_SUBJECT_ACCESS_REVIEW,
    ),
    (
        "authorization.k8s.io/v1",
        "SubjectAccessReview",
        &AUTHORIZATION_V1_SUBJECT_ACCESS_REVIEW,
    ),
    (
        "authorization.k8s.io/v1",
        "SelfSubjectRulesReview",
        &AUTHORIZATION_V1_SELF_SUBJECT_RULES_REVIEW,
    ),
    ("rbac.authorization.k8s.io/v1", "Role", &RBAC_V1_ROLE),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleList",
        &RBAC_V1_ROLE_LIST,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        &RBAC_V1_CLUSTER_ROLE,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleList",
        &RBAC_V1_CLUSTER_ROLE_LIST,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        &RBAC_V1_ROLE_BINDING,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleBindingList",
        &RBAC_V1_ROLE_BINDING_LIST,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        &RBAC_V1_CLUSTER_ROLE_BINDING,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBindingList",
        &RBAC_V1_CLUSTER_ROLE_BINDING_LIST,
    ),
    ("batch/v1", "Job", &BATCH_V1_JOB),
    ("batch/v1", "JobList", &BATCH_V1_JOB_LIST),
    ("batch/v1", "CronJob", &BATCH_V1_CRON_JOB),
    ("batch/v1", "CronJobList", &BATCH_V1_CRON_JOB_LIST),
    (
        "scheduling.k8s.io/v1",
        "PriorityClass",
        &SCHEDULING_V1_PRIORITY_CLASS,
    ),
    (
        "scheduling.k8s.io/v1",
        "PriorityClassList",
        &SCHEDULING_V1_PRIORITY_CLASS_LIST,
    ),
    ("networking.k8s.io/v1", "Ingress", &NETWORKING_V1_INGRESS),
    (
        "networking.k8s.io/v1",
        "IngressList",
        &NETWORKING_V1_INGRESS_LIST,
    ),
    (
        "networking.k8s.io/v1",
        "IngressClass",
        &NETWORKING_V1_INGRESS_CLASS,
    ),
    (
        "networking.k8s.io/v1",
        "NetworkPolicy",
        &NETWORKING_V1_NETWORK_POLICY,
    ),
    ("events.k8s.io/v1", "Event", &EVENTS_V1_EVENT),
    ("meta.k8s.io/v1", "DeleteOptions", &META_V1_DELETE_OPTIONS),
    ("meta.k8s.io/v1", "Status", &META_V1_STATUS),
];
