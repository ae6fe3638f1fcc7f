// The machine's limit for starting the bench's program: a few lines of C that posix_spawn the
// same drain program with the same message on its stdin, 8 at once, as fast as they can. Built by
// the bench with cc; a transport cannot start programs faster than this on the same machine.
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

const SOURCE = `#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

extern char **environ;

/* usage: spawn-limit PROGRAM MESSAGE_FILE COUNT PARALLEL; prints runs per second */
int main(int argc, char **argv) {
  if (argc != 5) return 2;
  static char message[1 << 20];
  int file = open(argv[2], O_RDONLY);
  ssize_t size = read(file, message, sizeof message);
  close(file);
  int count = atoi(argv[3]), parallel = atoi(argv[4]), started = 0, running = 0;
  char *args[] = {argv[1], NULL};
  struct timespec begin, end;
  clock_gettime(CLOCK_MONOTONIC, &begin);
  while (started < count || running > 0) {
    while (running < parallel && started < count) {
      int fds[2];
      if (pipe2(fds, O_CLOEXEC) != 0) return 1;
      posix_spawn_file_actions_t actions;
      posix_spawn_file_actions_init(&actions);
      posix_spawn_file_actions_adddup2(&actions, fds[0], 0);
      posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
      pid_t pid;
      if (posix_spawn(&pid, argv[1], &actions, NULL, args, environ) != 0) return 1;
      posix_spawn_file_actions_destroy(&actions);
      close(fds[0]);
      if (write(fds[1], message, size) != size) return 1;
      close(fds[1]);
      started++;
      running++;
    }
    if (wait(NULL) > 0) running--;
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  double seconds = (end.tv_sec - begin.tv_sec) + (end.tv_nsec - begin.tv_nsec) / 1e9;
  printf("%.1f\\n", count / seconds);
  return 0;
}
`

/** Builds the loop; undefined where there is no C compiler. */
export function buildSpawnLimit(dir: string): string | undefined {
  const source = join(dir, 'spawn-limit.c')
  const path = join(dir, 'spawn-limit')
  writeFileSync(source, SOURCE)
  try {
    execFileSync('cc', ['-O2', '-o', path, source], { stdio: ['ignore', 'ignore', 'pipe'] })
    return path
  } catch {
    return undefined
  }
}

/** Runs per second: `count` runs of `program`, each fed `messageFile`, `parallel` at once. */
export function measureSpawnLimit(
  loop: string,
  program: string,
  messageFile: string,
  count: number,
  parallel: number,
): number {
  return Number(
    execFileSync(loop, [program, messageFile, String(count), String(parallel)], { encoding: 'utf8' }).trim(),
  )
}
