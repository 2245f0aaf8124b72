/**
 * Loaded into every test file's process (scripts/test.sh): the process ends at most 10 s after the file's last
 * test, so a process a test failed to stop (a piped child that never exits) cannot keep the run going. Node's
 * --test-force-exit ends it at once instead, and then sometimes loses the file's last verdicts on their way to
 * the runner (nodejs/node#64833: fewer tests counted, a failure's name lost); the wait lets them arrive. The
 * timer does not keep a process alive that would end by itself. The exit code is the runner's own (1 when a
 * test failed).
 */
if (process.env.NODE_TEST_CONTEXT) {
  const { after } = await import('node:test');
  after(() => {
    setTimeout(() => process.exit(), 10_000).unref();
  });
}
