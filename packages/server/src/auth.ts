import type { AccessKeyConfig } from "@meshwork/rules";
import { SignJWT, errors as joseErrors, jwtVerify, type JWTHeaderParameters } from "jose";
import { MeshworkServerError } from "./errors.js";
import { httpError } from "./http.js";
import type { ManagementTokenOptions } from "./types.js";

/** The audience every management token names. */
export const MANAGEMENT_AUDIENCE = "meshes-api";
/** The longest lifetime (`exp - iat`) a management token may have, seconds. */
export const MAX_TOKEN_LIFETIME_SECONDS = 60;

const encoder = new TextEncoder();
const issuerOf = (accessKey: string) => `urn:meshes:m2m:${accessKey}`;

/**
 * Signs a short-lived HS256 machine token for the management API, the scheme of the Meshes
 * management clients: header `kid` = access key, `iss` = `urn:meshes:m2m:<access key>`,
 * `aud` = `meshes-api`, `exp - iat` ≤ 60 s. Mint one per request.
 *
 * @example
 * const token = await mintManagementToken({ accessKey: "mk_live_…", secretKey: process.env.MESHWORK_SECRET_KEY! });
 * await fetch("http://127.0.0.1:8787/api/v1/events", { headers: { authorization: `Bearer ${token}` } });
 */
export async function mintManagementToken(options: ManagementTokenOptions): Promise<string> {
  const { accessKey, secretKey } = options;
  if (typeof accessKey !== "string" || accessKey === "") throw new MeshworkServerError("invalid_argument", "mintManagementToken: accessKey is required");
  if (typeof secretKey !== "string" || secretKey === "") throw new MeshworkServerError("invalid_argument", "mintManagementToken: secretKey is required");
  const lifetime = options.expiresInSeconds ?? 30;
  if (!(Number.isInteger(lifetime) && lifetime >= 1 && lifetime <= MAX_TOKEN_LIFETIME_SECONDS)) {
    throw new MeshworkServerError("invalid_argument", `mintManagementToken: expiresInSeconds must be an integer from 1 to ${MAX_TOKEN_LIFETIME_SECONDS}`);
  }
  const iat = Math.floor((options.now ?? Date.now()) / 1000);
  return new SignJWT(options.org === undefined ? {} : { org: options.org })
    .setProtectedHeader({ alg: "HS256", typ: "JWT", kid: accessKey })
    .setIssuer(issuerOf(accessKey))
    .setAudience(MANAGEMENT_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + lifetime)
    .sign(encoder.encode(secretKey));
}

/** Who a verified token speaks for. */
export interface Principal {
  accessKey: string;
  workspaces: ReadonlySet<string>;
}

/** Checks bearer tokens against the config's access keys; rejects with a 401 `MeshworkServerError` that says why. */
export function createTokenVerifier(accessKeys: readonly AccessKeyConfig[], options: { clockToleranceSec?: number } = {}) {
  const keys = new Map<string, { secret: Uint8Array; principal: Principal }>();
  for (const key of accessKeys) {
    keys.set(key.accessKey, { secret: encoder.encode(key.secretKey), principal: { accessKey: key.accessKey, workspaces: new Set(key.workspaces) } });
  }
  const tolerance = options.clockToleranceSec ?? 5;
  const refuse = (message: string) => httpError(401, "unauthorized", message, undefined, { "www-authenticate": 'Bearer realm="meshwork"' });

  return async function verify(authorization: string | undefined): Promise<Principal> {
    if (!authorization) throw refuse("missing Authorization header: send `Authorization: Bearer <machine token>` minted from an access key");
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw refuse("the Authorization header must be `Bearer <machine token>`");
    let kid: string | undefined;
    const getKey = (header: JWTHeaderParameters) => {
      kid = header.kid;
      if (typeof kid !== "string" || kid === "") throw refuse("the token has no `kid` header (it must be the access key)");
      const found = keys.get(kid);
      if (!found) throw refuse("unknown access key (the token's `kid`)");
      return found.secret;
    };
    let payload;
    try {
      ({ payload } = await jwtVerify(match[1]!, getKey, {
        algorithms: ["HS256"],
        audience: MANAGEMENT_AUDIENCE,
        clockTolerance: tolerance,
        requiredClaims: ["iss", "iat", "exp"],
      }));
    } catch (error) {
      if (MeshworkServerError.isInstance(error)) throw error;
      throw refuse(describeJoseError(error));
    }
    if (payload.iss !== issuerOf(kid!)) throw refuse(`the token's iss must be "urn:meshes:m2m:<access key>"`);
    const iat = payload.iat!;
    const exp = payload.exp!;
    if (exp - iat > MAX_TOKEN_LIFETIME_SECONDS) throw refuse(`the token lives ${exp - iat} s; the most allowed is ${MAX_TOKEN_LIFETIME_SECONDS} s (exp - iat)`);
    if (iat > Math.floor(Date.now() / 1000) + tolerance) throw refuse("the token was issued in the future (iat); check the clock");
    return keys.get(kid!)!.principal;
  };
}

function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return "the token has expired; mint a new one for each request";
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === "aud") return `the token's aud must be "${MANAGEMENT_AUDIENCE}"`;
    return `the token's ${error.claim} claim is invalid: ${error.reason}`;
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "the token's signature does not match the access key's secret";
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return "the token must be signed with HS256";
  if (error instanceof joseErrors.JWTInvalid || error instanceof joseErrors.JWSInvalid) return "the token is not a valid JWT";
  return "the token could not be verified";
}
