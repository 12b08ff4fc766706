// autocannon with a new Idempotency-Key on every request, as @meshwork/events sends (its command
// line can only send fixed headers). Prints autocannon's JSON result, like `autocannon -j`.
//   node bench/server/keyed.mjs '{"url":…,"connections":8,"duration":10,"body":"/path/to/body.json","headers":{…}}'
import { readFileSync } from "node:fs";
import autocannon from "autocannon";

const { url, connections, duration, body, headers } = JSON.parse(process.argv[2]);
const payload = readFileSync(body, "utf8");
let n = 0;
const result = await autocannon({
  url,
  connections,
  duration,
  method: "POST",
  headers,
  requests: [{ setupRequest: (request) => ({ ...request, body: payload, headers: { ...request.headers, "idempotency-key": `bench-${process.pid}-${n++}` } }) }],
});
process.stdout.write(JSON.stringify(result));
