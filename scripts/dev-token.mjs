#!/usr/bin/env node
// Prints an HS256 access token signed with JWT_HS256_SECRET, for the local stack and the demo
// only (production tokens come from the identity provider).
//
//   JWT_HS256_SECRET=... node scripts/dev-token.mjs --org UUID [--sub UUID] [--scope "a b"] [--ttl 3600]
//   JWT_HS256_SECRET=... node scripts/dev-token.mjs --service NAME [--ttl 3600]
//
// --service makes the detection pipeline's service token: sub NAME, scope photos:status:write,
// no org_id (docs/clients.md, "The detection pipeline").
import { createHmac, randomUUID } from "node:crypto";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    org: { type: "string" },
    service: { type: "string" },
    sub: { type: "string", default: randomUUID() },
    scope: { type: "string" },
    ttl: { type: "string", default: "3600" },
  },
});
const secret = process.env.JWT_HS256_SECRET;
if (!secret || !values.org === !values.service) {
  console.error(
    "usage: JWT_HS256_SECRET=... node scripts/dev-token.mjs (--org UUID [--sub UUID] [--scope S] | --service NAME)",
  );
  process.exit(2);
}
const encode = (object) => Buffer.from(JSON.stringify(object)).toString("base64url");
const now = Math.floor(Date.now() / 1000);
const claims = values.service
  ? { sub: values.service, scope: "photos:status:write", iat: now, exp: now + Number(values.ttl) }
  : { sub: values.sub, org_id: values.org, iat: now, exp: now + Number(values.ttl) };
if (values.scope && !values.service) claims.scope = values.scope;
for (const [claim, variable] of [["iss", "JWT_ISSUER"], ["aud", "JWT_AUDIENCE"]]) {
  if (process.env[variable]) claims[claim] = process.env[variable];
}
const unsigned = `${encode({ alg: "HS256", typ: "JWT" })}.${encode(claims)}`;
const signature = createHmac("sha256", secret).update(unsigned).digest("base64url");
console.log(`${unsigned}.${signature}`);
