// Root hook: fail the whole run at once, with one clear message, when the
// server under test is not configured.
import { serverCommand } from "./harness.mjs";

export const mochaHooks = {
  beforeAll() {
    serverCommand();
  },
};
