/**
 * The benchmarks' RUNTIME STAND-IN (bench/scale/stand-in-driver.ts: one process serving every instance's port)
 * against the shared driver conformance suite: it keeps the driver contract's API-level behaviour, which is
 * what bench/scale.ts relies on. The process-level cases are skipped, each with why: it runs no program.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runDriverConformance, writeConformanceApp } from '../src/runtime/conformance.ts';
import { StandInDriver } from '../bench/scale/stand-in-driver.ts';

const artifactDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-conf-app-'));
writeConformanceApp(artifactDir);

const noProcess = 'the stand-in runs no program: every instance is a listener in one shared process';
runDriverConformance('benchmark stand-in', () => new StandInDriver(), {
  artifactDir,
  skip: {
    'stops gracefully with SIGTERM and removes the instance': noProcess,
    'kills an instance that ignores SIGTERM once the grace period is over': noProcess,
    'reports a crash with its exit code through list and watch': noProcess,
    'captures stdout and stderr lines with timestamps': noProcess,
    'runs a command inside the instance (CMD probes)': noProcess,
    'runs the command where the app runs: it sees what the app wrote to its /tmp': noProcess,
    'samples resource usage': noProcess,
    'reports the CPU of a busy instance, counting a child process of the app': noProcess,
    'a second driver over the same state adopts running instances and can stop them': 'its table lives in the driver that started the instances (a benchmark never restarts its control plane)',
  },
});
