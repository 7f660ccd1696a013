import { describe, expect, it } from 'vitest';
import { engineFault } from '../../src/build/docker-executor.js';
import { buildOutcome } from '../../src/build/outcome.js';

describe('engineFault: the docker client saying the engine, not the build, failed', () => {
  it('an engine that does not answer is down', () => {
    const tail = "docker: Cannot connect to the Docker daemon at unix:///run/x.sock. Is the docker daemon running?\n\nRun 'docker run --help' for more information\n";
    expect(engineFault(125, tail)).toEqual({ kind: 'engine_down', detail: 'Cannot connect to the Docker daemon at unix:///run/x.sock. Is the docker daemon running?' });
  });

  it('a connection cut while the build ran (EOF) is an engine that went away', () => {
    const tail = 'compiling...\ntime="2026-11-30T11:52:06Z" level=error msg="error waiting for container: unexpected EOF"\n';
    expect(engineFault(125, tail)).toEqual({ kind: 'engine_lost', detail: 'error waiting for container: unexpected EOF' });
    const start = 'docker: error during connect: Post "http://%2Frun%2Fx.sock/v1.41/containers/9aae/start": EOF\n';
    expect(engineFault(125, start)).toEqual({ kind: 'engine_lost', detail: 'error during connect: Post: EOF' });
  });

  it("the daemon's own failures are the engine's; the image's and the command's are not", () => {
    const containerd =
      'docker: Error response from daemon: failed to create task for container: failed to create shim task: connection error: desc = "transport: Error while dialing: dial unix /run/containerd/containerd.sock: connect: connection refused": unavailable.\n';
    expect(engineFault(125, containerd)?.kind).toBe('engine_error');
    expect(engineFault(125, 'docker: Error response from daemon: mkdir /var/lib/docker/overlay2/x: no space left on device.\n')?.kind).toBe('engine_error');
    const command =
      'docker: Error response from daemon: failed to create task for container: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "nosuch": executable file not found in $PATH: unknown.\n';
    expect(engineFault(125, command)).toBeUndefined();
  });

  it("the build's own output and other exit codes are never taken for the engine", () => {
    expect(engineFault(125, 'unexpected EOF while parsing\n')).toBeUndefined();
    expect(engineFault(1, 'docker: Cannot connect to the Docker daemon\n')).toBeUndefined();
    expect(engineFault(125, 'docker: Error response from daemon: pull access denied.\n')).toBeUndefined();
    expect(engineFault(125, undefined)).toBeUndefined();
  });

  it('a build the engine failed is not_run with the machine named, never failed', () => {
    const result = { exitCode: null, timedOut: false, canceled: false, fault: { kind: 'engine_down' as const, detail: 'Cannot connect' }, durationMs: 5 };
    expect(buildOutcome(result, 0, 'required', 60, { machine: 'linux-1' })).toEqual({
      status: 'not_run',
      reason: 'not run: the Docker engine on linux-1 was down (Cannot connect)',
    });
  });
});
