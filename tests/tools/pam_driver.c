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
 * conversation fails after the wait.
 */
#include <dirent.h>
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

static int threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
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

int main(int argc, char **argv)
{
	struct script s;
	struct pam_conv c = { conv, &s };
	pam_handle_t *pamh = NULL;
	bool several;
	int rc;

	if (argc < 4) {
		fprintf(stderr, "usage: pam_driver SERVICE USER OPERATION [ANSWER...]\n");
		return 2;
	}
	s.answers = argv + 4;
	s.n = argc - 4;
	s.next = 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	rc = pam_start(argv[1], argv[2], &c, &pamh);
	if (rc == PAM_SUCCESS && getenv("PAM_DRIVER_TTY"))
		rc = pam_set_item(pamh, PAM_TTY, getenv("PAM_DRIVER_TTY"));
	if (rc == PAM_SUCCESS && getenv("PAM_DRIVER_RHOST"))
		rc = pam_set_item(pamh, PAM_RHOST, getenv("PAM_DRIVER_RHOST"));
	several = strchr(argv[3], ',') != NULL; /* (strtok cuts argv[3]) */
	for (char *op = strtok(argv[3], ","); op && rc == PAM_SUCCESS; op = strtok(NULL, ",")) {
		char line[64];

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
	pam_end(pamh, rc);
	return rc == PAM_SUCCESS ? 0 : 1;
}
