/* Replays a fuzz corpus through whichever libFuzzer target this program is
 * linked with, so make check catches regressions without clang.
 *
 * usage: replay_TARGET [CORPUS_DIR]   (default: the directory compiled in)
 *
 * Each file is copied into a malloc block of exactly its size, so ASan sees
 * any read past the end, and passed to LLVMFuzzerTestOneInput. An empty or
 * missing corpus is a failure: a replay of nothing proves nothing.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_MAX (4 * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read the regular file dir/name into an exact-size block; 1 on success,
 * 0 when it is not a regular file, -1 on error. */
static int read_input(int dirfd, const char *name, uint8_t **out, size_t *size)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;
	int fd, rc = -1;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) != 0)
		goto out;
	if (!S_ISREG(st.st_mode)) {
		rc = 0;
		goto out;
	}
	if (st.st_size > FILE_MAX) {
		errno = EFBIG;
		goto out;
	}
	/* malloc(0) may return NULL; an empty input still gets a real pointer. */
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf)
		goto out;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n <= 0)
			goto out;
		got += (size_t)n;
	}
	*out = buf;
	*size = got;
	buf = NULL;
	rc = 1;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int not_hidden(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : CORPUS_DIR;
	struct dirent **names = NULL;
	int n, dirfd, replayed = 0, status = 1;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	n = dirfd < 0 ? -1 : scandir(dir, &names, not_hidden, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		goto out;
	}
	for (int i = 0; i < n; i++) {
		uint8_t *data = NULL;
		size_t size = 0;
		int rc = read_input(dirfd, names[i]->d_name, &data, &size);

		if (rc < 0) {
			fprintf(stderr, "replay: %s/%s: %s\n", dir, names[i]->d_name, strerror(errno));
			goto out;
		}
		if (rc == 0)
			continue;
		LLVMFuzzerTestOneInput(data, size);
		free(data);
		replayed++;
	}
	if (replayed == 0) {
		fprintf(stderr, "replay: no corpus files in %s\n", dir);
		goto out;
	}
	printf("replayed %d corpus files from %s\n", replayed, dir);
	status = 0;
out:
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (dirfd >= 0)
		close(dirfd);
	return status;
}
