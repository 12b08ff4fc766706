// A webhook receiver for the server benchmark: answers 200 at once and counts, nothing more.
import { createServer } from "node:http";

let received = 0;
const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    received++;
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"ok":true}');
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}/in` })}\n`);
});
process.on("SIGTERM", () => {
  process.stderr.write(`receiver: ${received} requests\n`);
  process.exit(0);
});
