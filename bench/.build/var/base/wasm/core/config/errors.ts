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
export const E_RANGE = "must be between";
export const E_PATH_PREFIX = "must start with /";
export const E_HOST = "must be a host name (no scheme, no path)";
export const E_JSON = "configuration is not valid JSON";
