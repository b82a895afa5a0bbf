/* bootstrap: the entry point of the tradelake Lambda package.
 *
 * Lambda's provided.al2023 runtime executes $LAMBDA_TASK_ROOT/bootstrap. The
 * package carries tradelake with every shared library it needs, glibc and
 * its dynamic loader included (Debian 12 builds against glibc 2.36, AL2023
 * has 2.34), so this program starts the *bundled* loader on the binary:
 *
 *   lib/ld-linux-x86-64.so.2 --library-path lib --argv0 tradelake bin/tradelake lambda [args]
 *
 * It is linked statically (scripts/package.sh), so it runs where no shell and
 * no host libraries exist (the bubblewrap test root has neither). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void dir_of_self(char* out, size_t size) {
  ssize_t n = readlink("/proc/self/exe", out, size - 1);
  if (n <= 0) {
    snprintf(out, size, ".");
    return;
  }
  out[n] = '\0';
  char* slash = strrchr(out, '/');
  if (slash != NULL) *slash = '\0';
}

int main(int argc, char** argv) {
  char root[PATH_MAX];
  const char* task_root = getenv("LAMBDA_TASK_ROOT");
  if (task_root != NULL && task_root[0] != '\0') {
    snprintf(root, sizeof root, "%s", task_root);
  } else {
    dir_of_self(root, sizeof root);
  }
  char loader[PATH_MAX + 64], libdir[PATH_MAX + 64], binary[PATH_MAX + 64];
  snprintf(loader, sizeof loader, "%s/lib/ld-linux-x86-64.so.2", root);
  snprintf(libdir, sizeof libdir, "%s/lib", root);
  snprintf(binary, sizeof binary, "%s/bin/tradelake", root);

  char** args = calloc((size_t)argc + 8, sizeof(char*));
  if (args == NULL) return 127;
  int i = 0;
  args[i++] = loader;
  args[i++] = "--library-path";
  args[i++] = libdir;
  args[i++] = "--argv0";
  args[i++] = "tradelake";
  args[i++] = binary;
  args[i++] = "lambda";
  for (int k = 1; k < argc; ++k) args[i++] = argv[k];
  args[i] = NULL;
  /* Lambda starts us in /var/task, which is read-only; anything written
   * relative to the working directory (DuckDB's spill files go to ./.tmp)
   * must land in /tmp, the function's ephemeral storage. */
  if (chdir("/tmp") != 0) fprintf(stderr, "bootstrap: cannot chdir to /tmp: %s\n", strerror(errno));
  execv(loader, args);
  fprintf(stderr, "bootstrap: cannot run %s: %s\n", loader, strerror(errno));
  return 127;
}
