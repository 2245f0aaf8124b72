/**
 * The system part of the PATH an instance runs with (after its artifact's own `node_modules/.bin`): the
 * machine's tools, not the control plane's. A Node build resolves `node` the same way (builds/node-build.ts),
 * so an app runs on the Node it was built with, whatever Node runs slipway itself.
 */
export const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin';
