// Validation rules, as users read them in `tandem validate`, Kong's error log and
// Envoy's log. One constant each so the text is identical on every path and searchable.
// A full message is "<field path>: <rule>, got <value>".
export const E_OBJECT = "must be an object";
export const E_STRING = "must be a string";
export const E_NUMBER = "must be a number";
export const E_INTEGER = "must be an integer";
export const E_BOOLEAN = "must be a boolean";
export const E_ARRAY = "must be an array";
export const E_REQUIRED = "is required";
export const E_UNKNOWN_FIELD = "unknown field";
export const E_NOT_EMPTY = "must not be empty";
export const E_PERCENT = "must be between 0 and 100";
export const E_PERCENT_DECIMALS = "must have at most 2 decimals";
export const E_WEIGHT_SUM = "weights must sum to 100";
export const E_UNIQUE = "must be unique";
export const E_NAME = "must match [A-Za-z0-9._-]{1,64}";
export const E_HEADER_NAME = "must be an HTTP header name (token characters, at most 128)";
export const E_SOURCE = "must be one of cookie:<name>, header:<name>, query:<name>, ip";
export const E_COOKIE_NAME = "must be a cookie name (token characters, at most 128)";
export const E_COOKIE_SOURCE = "must also be listed in stickiness.sources as cookie:<name>";
export const E_PATH_PREFIX = "must start with /";
export const E_HOST = "must be a host name (no scheme, no path)";
export const E_JSON = "configuration is not valid JSON";
export const E_DEPTH = "must not nest deeper than 32 levels";
export const E_FINITE = "must be a finite number";
export const E_COOKIE_DOMAIN = "must be a domain name (labels of letters, digits and -, joined by single dots; one leading dot allowed)";
// Circuit breaker (spec.circuitBreaker) and fallback (spec.fallback).
export const E_WINDOW_TYPE = "must be one of count, time";
export const E_COUNT_ONLY = "applies only to window type count";
export const E_TIME_ONLY = "applies only to window type time";
export const E_BUCKETS_DIVIDE = "must divide window.sizeMs evenly";
export const E_BREAKER_KEY = "must be one of upstream, route, header:<name>";
export const E_BREAKER_MODE = "must be one of enforce, dry_run, forced_open, forced_closed";
export const E_STATUS_PATTERN = "must be a status code 100-599 or a class 1xx-5xx";
export const E_GRPC_STATUS = "must be a gRPC status code, an integer 0-16";
export const E_ERROR_KIND = "must be one of connect, reset, timeout";
export const E_MULTIPLIER = "must be between 1 and 100";
export const E_BACKOFF_MAX = "must be at least openDurationMs";
export const E_FALLBACK_ACTION = "must have exactly one of respond, reroute, cache";
// The ordered fallback list (spec.fallback as an array) and its cache (spec.fallback[].cache).
export const E_FALLBACK_LIST = "must have 1 or 2 items: a cache, and a respond or a reroute";
export const E_FALLBACK_CACHE_ONCE = "only one fallback may be a cache";
export const E_FALLBACK_ANSWER_ONCE = "only one fallback may be a respond or a reroute";
export const E_FALLBACK_UNREACHABLE = "is never used: the fallback before it answers every case of its on";
export const E_CACHE_METHOD = "must be one of GET, HEAD (the methods whose responses a cache may store, RFC 9110 9.2.3)";
export const E_CACHE_STATUS = "must be a heuristically cacheable status (RFC 9110 15.1): 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501";
export const E_REROUTE_TARGET = "must have exactly one of variant, upstream";
export const E_FALLBACK_ON = "must be one of open, upstreamFailure";
export const E_BODY_SIZE = "must be at most 65536 bytes (UTF-8)";
export const E_HEADER_VALUE = "must be a header value (no control characters, at most 8192)";
export const E_HEADER_RESERVED = "is set by the gateway";
export const E_UPSTREAM_NAME = "must be 1-256 characters without spaces or control characters";
export const E_CONTENT_TYPE_HEADER = "must be set with respond.contentType";
// rules (spec.experiment.rules)
export const E_UNKNOWN_VARIANT = "must name one of the experiment's variants";
export const E_ONE_OF_MATCH = "must have exactly one of exact, prefix, suffix, contains, regex, present";
export const E_RULE_TARGET = "must have exactly one of variant, split";
export const E_MATCH_VALUE = "must be at most 1024 bytes";
// hash modes (spec.experiment.hash)
export const E_HASH = "must be one of tandem, growthbook-v2, unleash";
export const E_UNLEASH_WEIGHT = "must be a multiple of 0.1 with hash: unleash (Unleash weighs variants in tenths of a percent)";
export const E_GUARD_TO = "must name another variant, one without a guard";
// tagging experiments (spec.experiments)
export const E_TAGGING_NEEDS_EXPERIMENT = "needs spec.experiment: tagging experiments use its user key and scope (to only tag, declare one with a single variant of weight 100)";
export const E_TAGS_HEADER = "must not be x-tandem-experiments (the tagging experiments' header)";
// spec.experiment.variantHeader and override.header
export const E_HEADER_OWNED = "must not be a header the gateways own (host, content-length, connection, keep-alive, proxy-connection, te, transfer-encoding, upgrade)";
export const E_OVERRIDE_HEADER = "must differ from variantHeader";
// spec.upstreams: one policy, every gateway's names for an upstream (docs/policy.md)
export const E_DNS_LABEL = "must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)";
export const E_ADDRESS = "must be host:port (a host name and a port 1-65535)";
export const E_KONG_UPSTREAM = "must be a Kong Upstream name (a host name, e.g. <service>.<namespace>.<port>.svc)";
export const E_LABEL_KEY = "must be a Kubernetes label key ([prefix/]name, name at most 63 of [A-Za-z0-9-_.] starting and ending alphanumeric)";
export const E_LABEL_VALUE = "must be a Kubernetes label value (at most 63 of [A-Za-z0-9-_.], starting and ending alphanumeric)";
export const E_UNKNOWN_UPSTREAM = "must name one of spec.upstreams";
// spec.retries.retryOn (Envoy's retry_on names, which Istio passes through)
export const E_RETRY_ON = "must be one of 5xx, reset, connect-failure, refused-stream";
