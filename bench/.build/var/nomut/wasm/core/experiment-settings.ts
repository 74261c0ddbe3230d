// Settings of a sticky weighted experiment, built once per configuration.
import { utf8 } from "./bytes";
import { Needs } from "./facts";

export const enum SourceKind { Cookie = 0, Header = 1, Query = 2, Ip = 3 }

export class Source {
  nameBytes: StaticArray<u8>;
  slot: i32 = -1;          // index into ExperimentSettings.needs
  constructor(public kind: SourceKind, public name: string) {
    this.nameBytes = utf8(name);
  }
}

export class Variant {
  nameBytes: StaticArray<u8>;
  upperBp: i32 = 0;        // exclusive end of this variant's bucket range, in basis points
  constructor(public name: string, public weightBp: i32, public upstream: string) {
    this.nameBytes = utf8(name);
  }
}

// Length of a generated sticky id: 128 bits as lowercase hex.
export const ID_HEX_LEN = 32;

export class CookieSettings {
  maxAge: i64 = 0;          // seconds; 0 = session cookie (no Max-Age attribute)
  path: string = "/";
  domain: string = "";
  secure: bool = false;
  httpOnly: bool = true;
  sameSite: string = "Lax";
  prefix: StaticArray<u8> = new StaticArray<u8>(0);  // "name="
  suffix: StaticArray<u8> = new StaticArray<u8>(0);  // "; Path=/; Max-Age=...; HttpOnly; SameSite=Lax"
  constructor(public name: string) {}

  build(): void {
    this.prefix = utf8(this.name + "=");
    let sfx = "; Path=" + this.path;
    if (this.maxAge > 0) sfx += "; Max-Age=" + this.maxAge.toString();
    if (this.domain.length > 0) sfx += "; Domain=" + this.domain;
    if (this.secure) sfx += "; Secure";
    if (this.httpOnly) sfx += "; HttpOnly";
    sfx += "; SameSite=" + this.sameSite;
    this.suffix = utf8(sfx);
  }
}

export class ExperimentSettings {
  name: string = "";
  seed: string = "";
  seedHash: u32 = 0;
  variantHeader: string = "";
  variantHeaderBytes: StaticArray<u8> = new StaticArray<u8>(0);
  variants: StaticArray<Variant> = new StaticArray<Variant>(0);
  sources: StaticArray<Source> = new StaticArray<Source>(0);
  cookie: CookieSettings | null = null;
  scopeHosts: StaticArray<StaticArray<u8>> | null = null;
  scopePrefixes: StaticArray<StaticArray<u8>> | null = null;
  hostSlot: i32 = -1;
  pathSlot: i32 = -1;
  entropySlot: i32 = -1;
  needs: Needs = new Needs();
}
