/* cpu_time: the CPU time and peak RSS of one command, to the microsecond.
 *
 *   cpu_time OUT CMD [ARG...]
 *
 * Runs CMD (stdin, stdout and stderr inherited), waits for it, and writes
 * "CPU_MS MAXRSS_KIB" to OUT: user + sys from wait4's rusage, which has a
 * microsecond grain (GNU time prints hundredths of a second: a 30 ms login
 * read as 30 or 40). Exits with CMD's status (127 when it cannot run).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct rusage ru;
	FILE *out;
	int status;
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: cpu_time OUT CMD [ARG...]\n");
		return 2;
	}
	pid = fork();
	if (pid < 0) {
		perror("cpu_time: fork");
		return 127;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		perror("cpu_time: exec");
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) != pid) {
		perror("cpu_time: wait4");
		return 127;
	}
	out = fopen(argv[1], "w");
	if (!out || fprintf(out, "%.3f %ld\n",
			    (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
				    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3,
			    ru.ru_maxrss) < 0 ||
	    fclose(out) != 0) {
		perror("cpu_time: OUT");
		return 127;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
