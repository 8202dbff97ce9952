/* pam_driver: run one PAM operation through the real libpam (under
 * pam_wrapper in tests) with a conversation that records every message, so
 * tests can assert the exact prompts and lines a person would see.
 *
 *   pam_driver SERVICE USER OPERATION [ANSWER...]
 *
 * OPERATION: authenticate, acct_mgmt, chauthtok, setcred, open_session,
 * close_session, pause (waits for a line on stdin: a session held open),
 * user=NAME (sets PAM_USER: an application or module changing the user
 * between two steps), or several joined by commas, run in order until one
 * fails. PAM_DRIVER_TTY
 * and PAM_DRIVER_RHOST set PAM_TTY and PAM_RHOST. Each prompt takes the next
 * ANSWER (none left: the conversation fails). Prints one line
 * per message ("prompt-echo-off: Password: ", "info: ...", "error: ...") and
 * last "rc=N NAME".
 *
 * For timing tests (test_latency.sh), with PAM_DRIVER_TRACE set, to stderr:
 * "prompt t_ms=EPOCH_MS threads=N" when a prompt comes (N: this process's
 * threads), then after PAM_DRIVER_WAIT_MS (default 0) milliseconds
 * "answer t_ms=EPOCH_MS" as it answers, and after the operation
 * "end t_ms=EPOCH_MS threads=N". An ANSWER of
 * "@hang" never answers (the person walked away); with no ANSWER left the
 * conversation fails after the wait. Also "op NAME t_ms=EPOCH_MS" as each
 * operation starts (after pam_start has loaded the modules).
 *
 * PAM_DRIVER_REPEAT and PAM_DRIVER_STATS (the soak test): see main().
 */
#include <dirent.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

struct script {
	char **answers;
	int n, next;
};

/* Entries of a /proc/self directory (tasks, open descriptors). */
static int entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static int threads(void)
{
	return entries("/proc/self/task");
}

static long long now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void trace_answer(const char *answer)
{
	const char *wait = getenv("PAM_DRIVER_WAIT_MS");
	struct timespec ts;
	long ms = wait ? atol(wait) : 0;

	if (!getenv("PAM_DRIVER_TRACE"))
		return;
	fprintf(stderr, "prompt t_ms=%lld threads=%d\n", now_ms(), threads());
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
	fprintf(stderr, "answer t_ms=%lld\n", now_ms());
	if (strcmp(answer, "@hang") == 0)
		for (;;)
			pause();
}

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	static const char *const names[] = {
		[PAM_PROMPT_ECHO_OFF] = "prompt-echo-off", [PAM_PROMPT_ECHO_ON] = "prompt-echo-on",
		[PAM_ERROR_MSG] = "error", [PAM_TEXT_INFO] = "info",
	};
	struct script *s = data;
	struct pam_response *r = calloc((size_t)n, sizeof *r);

	if (!r)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		int style = msg[i]->msg_style;
		if (style < PAM_PROMPT_ECHO_OFF || style > PAM_TEXT_INFO) {
			free(r);
			return PAM_CONV_ERR;
		}
		printf("%s: %s\n", names[style], msg[i]->msg);
		if (style == PAM_PROMPT_ECHO_OFF || style == PAM_PROMPT_ECHO_ON) {
			if (s->next >= s->n) {
				printf("(no answer left)\n");
				trace_answer("@none");
				for (int j = 0; j < i; j++)
					free(r[j].resp);
				free(r);
				return PAM_CONV_ERR;
			}
			trace_answer(s->answers[s->next]);
			r[i].resp = strdup(s->answers[s->next++]);
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

/* Open file descriptors and resident set (KiB) of this process, for the soak. */
static int open_fds(void)
{
	return entries("/proc/self/fd") - 1; /* the one opendir holds */
}

/* "# fd N -> TARGET" for each open descriptor: which one a soak kept open. */
static void list_fds(FILE *f)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[300], target[4096];
		ssize_t n;

		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
		n = readlink(path, target, sizeof target - 1);
		target[n < 0 ? 0 : n] = '\0';
		fprintf(f, "# fd %s -> %s\n", e->d_name, target);
	}
	if (d)
		closedir(d);
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	long pages = 0, rss = 0;

	if (f && fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	if (f)
		fclose(f);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* One transaction: pam_start, OPS in order until one fails, pam_end;
 * without auth, OPS' authenticate is left out (an sshd public-key login's
 * transaction: account and session only). */
static int transaction(const char *service, const char *user, const char *ops, struct script *s, bool auth)
{
	struct pam_conv c = { conv, s };
	pam_handle_t *pamh = NULL;
	char *list = strdup(ops), *save = NULL;
	bool several = strchr(ops, ',') != NULL;
	int rc;

	if (!list)
		return PAM_BUF_ERR;
	s->next = 0;
	rc = pam_start(service, user, &c, &pamh);
	if (rc == PAM_SUCCESS && getenv("PAM_DRIVER_TTY"))
		rc = pam_set_item(pamh, PAM_TTY, getenv("PAM_DRIVER_TTY"));
	if (rc == PAM_SUCCESS && getenv("PAM_DRIVER_RHOST"))
		rc = pam_set_item(pamh, PAM_RHOST, getenv("PAM_DRIVER_RHOST"));
	for (char *op = strtok_r(list, ",", &save); op && rc == PAM_SUCCESS; op = strtok_r(NULL, ",", &save)) {
		char line[64];

		if (!auth && strcmp(op, "authenticate") == 0)
			continue;
		if (getenv("PAM_DRIVER_TRACE"))
			fprintf(stderr, "op %s t_ms=%lld\n", op, now_ms());
		if (strcmp(op, "authenticate") == 0)
			rc = pam_authenticate(pamh, 0);
		else if (strcmp(op, "acct_mgmt") == 0)
			rc = pam_acct_mgmt(pamh, 0);
		else if (strcmp(op, "chauthtok") == 0)
			rc = pam_chauthtok(pamh, 0);
		else if (strcmp(op, "setcred") == 0)
			rc = pam_setcred(pamh, PAM_ESTABLISH_CRED);
		else if (strcmp(op, "open_session") == 0)
			rc = pam_open_session(pamh, 0);
		else if (strcmp(op, "close_session") == 0)
			rc = pam_close_session(pamh, 0);
		else if (strncmp(op, "user=", 5) == 0)
			rc = pam_set_item(pamh, PAM_USER, op + 5);
		else if (strcmp(op, "pause") == 0) {
			printf("paused\n");
			if (!fgets(line, sizeof line, stdin))
				rc = PAM_SYSTEM_ERR;
		} else
			rc = PAM_SYSTEM_ERR;
		if (rc != PAM_SUCCESS && several) /* which of them failed */
			printf("%s: rc=%d\n", op, rc);
	}
	printf("rc=%d %s\n", rc, pam_strerror(pamh, rc));
	if (getenv("PAM_DRIVER_TRACE"))
		fprintf(stderr, "end t_ms=%lld threads=%d\n", now_ms(), threads());
	if (pamh)
		pam_end(pamh, rc);
	free(list);
	return rc;
}

/* PAM_DRIVER_REPEAT=N (the soak test): N transactions in this one process,
 * each with the same answers, stopping at the first that fails; with
 * PAM_DRIVER_AUTH_EVERY=K only transactions 1, K+1, 2K+1, ... authenticate; with
 * PAM_DRIVER_STATS=FILE a line "I FDS RSS_KIB" before the first (I = 0) and
 * after each, and the open descriptors ("# fd ...") before the first and
 * after the last. */
int main(int argc, char **argv)
{
	const char *repeat = getenv("PAM_DRIVER_REPEAT"), *stats = getenv("PAM_DRIVER_STATS");
	const char *every = getenv("PAM_DRIVER_AUTH_EVERY");
	long n = repeat ? atol(repeat) : 1, k = every ? atol(every) : 1;
	FILE *sf = NULL;
	struct script s;
	int rc = PAM_SUCCESS;

	if (argc < 4 || n < 1 || k < 1) {
		fprintf(stderr, "usage: pam_driver SERVICE USER OPERATION [ANSWER...]\n");
		return 2;
	}
	s.answers = argv + 4;
	s.n = argc - 4;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (stats) {
		sf = fopen(stats, "we");
		if (!sf) {
			perror(stats);
			return 2;
		}
		setvbuf(sf, NULL, _IOLBF, 0);
		/* nss_wrapper (the tests' NSS) keeps its passwd and group files
		 * open from the first lookup on: made here, so the count before
		 * the first transaction is the harness's and any descriptor more
		 * is the stack's. */
		(void)getpwnam(argv[2]);
		(void)getgrnam(argv[2]);
		list_fds(sf);
		fprintf(sf, "0 %d %ld\n", open_fds(), rss_kib());
	}
	for (long i = 1; i <= n && rc == PAM_SUCCESS; i++) {
		rc = transaction(argv[1], argv[2], argv[3], &s, (i - 1) % k == 0);
		if (sf)
			fprintf(sf, "%ld %d %ld\n", i, open_fds(), rss_kib());
	}
	if (sf) {
		list_fds(sf);
		fclose(sf);
	}
	return rc == PAM_SUCCESS ? 0 : 1;
}
