/** One clear line on stderr and a non-zero exit: how start-up refuses a bad setting. */
export function fail(message: string): never {
  process.stderr.write(`gatehouse: ${message}\n`);
  process.exit(1);
}
