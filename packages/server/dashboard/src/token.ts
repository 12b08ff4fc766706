// Management tokens minted in the browser with WebCrypto: the secret key signs here and never
// leaves the page. The same scheme as mintManagementToken (HS256, kid = access key,
// iss = urn:meshes:m2m:<access key>, aud = meshes-api, exp - iat ≤ 60 s).

const encoder = new TextEncoder();

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const encodeJson = (value: unknown) => base64url(encoder.encode(JSON.stringify(value)));

/** True where WebCrypto can sign: https pages, and http on localhost / 127.0.0.1. */
export const canSign = (): boolean => typeof crypto !== "undefined" && typeof crypto.subtle?.importKey === "function";

/** Imports the secret key as a non-extractable HMAC key: the page keeps the key object, not the text. */
export function importSecret(secretKey: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", encoder.encode(secretKey), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

/** Signs a machine token for the management API, valid `lifetimeSeconds` (default 30) from `nowMs`. */
export async function mintToken(accessKey: string, key: CryptoKey, nowMs: number, lifetimeSeconds = 30): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  const signingInput = `${encodeJson({ alg: "HS256", typ: "JWT", kid: accessKey })}.${encodeJson({
    iss: `urn:meshes:m2m:${accessKey}`,
    aud: "meshes-api",
    iat,
    exp: iat + lifetimeSeconds,
  })}`;
  const signature = await crypto.subtle.sign("HMAC", key, encoder.encode(signingInput));
  return `${signingInput}.${base64url(new Uint8Array(signature))}`;
}
