// SPDX-License-Identifier: GPL-2.0
/*
 * owner_one - run chosen tests of tests/owner/owner_test.c, not all of them.
 *
 * The kselftest harness of Linux 6.1 has no option to pick tests, and a
 * trace of one test is far easier to check than a trace of nineteen.  This
 * builds owner_test.c as it is, with its main() renamed, and runs only the
 * tests named on the command line, each as "FIXTURE.TEST" as the harness
 * prints them (global.live_update_fork_exec, own.only_the_owner_pins).
 * With -l it lists the names.  owner_exec must sit next to this program.
 *
 * Usage: owner_one -l | owner_one NAME...
 */
#define main owner_test_main
#include "../owner/owner_test.c"
#undef main

static bool wanted(const char *name, int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(name, argv[i]))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	struct __fixture_variant_metadata no_variant = { .name = "", };
	struct __fixture_variant_metadata *v;
	struct __test_results *results;
	struct __fixture_metadata *f;
	struct __test_metadata *t;
	unsigned int count = 0, pass = 0, planned = 0, pass_1;
	bool list = argc == 2 && !strcmp(argv[1], "-l");
	char name[256];

	if (argc < 2) {
		fprintf(stderr, "usage: owner_one -l | owner_one FIXTURE.TEST...\n");
		return 2;
	}
	/* Count first: the TAP plan comes before the results. */
	for (pass_1 = 1; ; pass_1 = 0) {
		for (f = __fixture_list; f; f = f->next) {
			for (v = f->variant ?: &no_variant; v; v = v->next) {
				for (t = f->tests; t; t = t->next) {
					snprintf(name, sizeof(name), "%s%s%s.%s",
						 f->name, v->name[0] ? "." : "",
						 v->name, t->name);
					if (list) {
						puts(name);
						continue;
					}
					if (!wanted(name, argc, argv))
						continue;
					if (pass_1) {
						planned++;
						continue;
					}
					count++;
					t->results = results;
					__run_test(f, v, t);
					t->results = NULL;
					pass += t->passed;
				}
			}
		}
		if (list)
			return 0;
		if (!pass_1)
			break;
		if (!planned) {
			fprintf(stderr, "owner_one: no such test; see owner_one -l\n");
			return 2;
		}
		results = mmap(NULL, sizeof(*results), PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (results == MAP_FAILED)
			return 1;
		ksft_print_header();
		ksft_set_plan(planned);
	}
	munmap(results, sizeof(*results));
	ksft_print_msg("%s: %u / %u tests passed.\n",
		       pass == count ? "PASSED" : "FAILED", pass, count);
	ksft_exit(pass == count);
	return KSFT_FAIL;
}
