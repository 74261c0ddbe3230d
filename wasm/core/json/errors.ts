// Syntax errors of the JSON reader (json.ts), one constant each: the text after
// "invalid JSON at offset <n>: " in a refused config, the same from every gateway.
import { Rule } from "../text/rule-bytes";

export const E_JSON_END: Rule = 0x000f7117; // "unexpected end of input"
export const E_JSON_KEY: Rule = 0x000f8815; // "expected a string key"
export const E_JSON_COLON: Rule = 0x000f9d0c; // "expected ':'"
export const E_JSON_OBJECT_NEXT: Rule = 0x000fa913; // "expected ',' or '}'"
export const E_JSON_ARRAY_NEXT: Rule = 0x000fbc13; // "expected ',' or ']'"
export const E_JSON_NUMBER: Rule = 0x000fcf0a; // "bad number"
export const E_JSON_UNTERMINATED: Rule = 0x000fd913; // "unterminated string"
export const E_JSON_CONTROL: Rule = 0x000fec1b; // "control character in string"
export const E_JSON_U_ESCAPE: Rule = 0x0010070d; // "bad \\u escape"
export const E_JSON_ESCAPE: Rule = 0x0010140a; // "bad escape"
export const E_JSON_TRAILING: Rule = 0x00101e22; // "unexpected data after the document"
