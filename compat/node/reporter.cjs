// Mocha's spec reporter plus one closing line, "N passed, M failed" (and
// ", K skipped" when tests were skipped), which CI and the top-level test
// script read.
"use strict";

const Mocha = require("mocha");

const { Spec } = Mocha.reporters;
const { EVENT_RUN_END } = Mocha.Runner.constants;

class CountingSpec extends Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const { passes, failures, pending } = this.stats;
      let line = `${passes} passed, ${failures} failed`;
      if (pending > 0) line += `, ${pending} skipped`;
      process.stdout.write(`${line}\n`);
    });
  }
}

module.exports = CountingSpec;
