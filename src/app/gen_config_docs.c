/* gen_config_docs.c: writes the files generated from the daemon's tables,
 * so that the committed copies never drift from the code:
 *
 *   packaging/sio-server.conf   commented sample (app_config_sample_conf)
 *   docs/configuration.md       every key (app_config_markdown)
 *   docs/events.md              the 22 event types (app_events_markdown)
 *
 * Usage: gen_config_docs --write TOP_SRCDIR   regenerate the three files
 *        gen_config_docs --check TOP_SRCDIR   exit 1 when one differs
 *        gen_config_docs conf|config-md|events-md   print one to stdout
 *
 * `make update-config-docs` runs --write; the unit test
 * test_app_config.c:generated_files_match does the --check comparison in
 * `make check`. Built as a noinst program; never installed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_config.h"
#include "app_events.h"
#include "app_util.h"

struct target {
  const char *name; /* command-line word */
  const char *path; /* relative to the top source directory */
  char *(*make)(void);
};

static const struct target targets[] = {
    {"conf", "packaging/sio-server.conf", app_config_sample_conf},
    {"config-md", "docs/configuration.md", app_config_markdown},
    {"events-md", "docs/events.md", app_events_markdown},
};

static int write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) {
    perror(path);
    return -1;
  }
  if (fputs(text, f) == EOF || fclose(f) != 0) {
    perror(path);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  size_t i;
  int rc = 0;

  if (argc == 2) {
    for (i = 0; i < APP_ARRLEN(targets); i++) {
      if (strcmp(argv[1], targets[i].name) == 0) {
        char *text = targets[i].make();
        if (!text)
          return 1;
        fputs(text, stdout);
        free(text);
        return 0;
      }
    }
  }
  if (argc != 3 ||
      (strcmp(argv[1], "--write") != 0 && strcmp(argv[1], "--check") != 0)) {
    fprintf(stderr,
            "usage: %s --write|--check TOP_SRCDIR\n"
            "       %s conf|config-md|events-md\n",
            argv[0], argv[0]);
    return 2;
  }
  for (i = 0; i < APP_ARRLEN(targets); i++) {
    char path[4096];
    char *text = targets[i].make(), *old = NULL;
    size_t len = 0;
    if (!text) {
      fprintf(stderr, "%s: out of memory\n", argv[0]);
      return 1;
    }
    snprintf(path, sizeof(path), "%s/%s", argv[2], targets[i].path);
    if (strcmp(argv[1], "--write") == 0) {
      if (write_file(path, text) != 0)
        rc = 1;
    } else if (app_read_file(path, 1 << 22, &old, &len) != 0 ||
               strcmp(old, text) != 0) {
      fprintf(stderr,
              "%s differs from the table; run `make update-config-docs`\n",
              path);
      rc = 1;
    }
    free(old);
    free(text);
  }
  return rc;
}
