/* SPDX-License-Identifier: MIT */
/*
 * OVF manifests: the spellings real writers use, every way a line can be wrong, the caps,
 * digests checked against the standard "abc" vectors and against sha1sum/sha256sum/
 * sha512sum run at test time on random data, the progress bar on a real pty, the
 * real-world manifests kept in tests/data/manifest, and every manifest of the shared
 * corpus when it is present.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "../../formats/source/source.h"
#include "../../formats/vm/manifest.h"
#include "../lib/harness.h"
#include "../lib/testdata.h"

#define MIB (1u << 20)

static const char abc_sha1[] = "a9993e364706816aba3e25717850c26c9cd0d89d";
static const char abc_sha256[] =
	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
static const char abc_sha512[] =
	"ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
	"2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
static const char empty_sha256[] =
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

static struct manifest *parse(const char *text)
{
	struct manifest *m = NULL;

	ASSERT_OK(manifest_parse(text, strlen(text), "t.mf", &m, E));
	ASSERT(m);
	return m;
}

/* Parsing text must fail with code and a message containing substr, leaving *ret alone. */
static void parse_fails(const char *text, size_t len, int code, const char *substr)
{
	struct manifest *m = (struct manifest *)&m;

	ASSERT_ERR(manifest_parse(text, len, "t.mf", &m, E), code, substr);
	ASSERT(m == (struct manifest *)&m);
}

#define PARSE_FAILS(text, code, substr) parse_fails(text, strlen(text), code, substr)

static void digest_hex(const struct manifest_entry *e, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < e->digest_len; i++) {
		out[2 * i] = digits[e->digest[i] >> 4];
		out[2 * i + 1] = digits[e->digest[i] & 15];
	}
	out[2 * e->digest_len] = '\0';
}

#define ASSERT_DIGEST(e, hex)                                                                      \
	do {                                                                                       \
		char h_[2 * MANIFEST_DIGEST_MAX + 1];                                              \
		digest_hex((e), h_);                                                               \
		ASSERT_STREQ(h_, (hex));                                                           \
	} while (0)

struct calls {
	uint64_t done[64];
	unsigned n;
};

static void record(void *opaque, uint64_t done)
{
	struct calls *c = opaque;

	ASSERT(c->n < 64);
	c->done[c->n++] = done;
}

/* Verify data[0..len) named name against entry name of m. */
static int verify_mem(const struct manifest *m, const char *name, const void *data, size_t len)
{
	const struct manifest_entry *e = manifest_find(m, name);
	struct source *s;
	int r;

	ASSERT(e);
	ASSERT_OK(source_mem_new(data, len, name, &s, E));
	err_clear(E);
	r = manifest_verify(e, s, NULL, NULL, E);
	source_unref(s);
	return r;
}

/* ------------------------------------------------------------------------------------ */
/* Digests */

TEST(abc_vectors)
{
	char text[1024];
	struct manifest *m;
	struct calls c = { 0 };
	struct source *s;

	snprintf(text, sizeof(text),
		 "SHA1(abc1.txt)= %s\nSHA256(abc256.txt)= %s\nSHA512(abc512.txt)= %s\n"
		 "SHA256(empty.txt)= %s\n", abc_sha1, abc_sha256, abc_sha512, empty_sha256);
	m = parse(text);
	ASSERT_EQ(manifest_count(m), 4);
	ASSERT_OK(verify_mem(m, "abc1.txt", "abc", 3));
	ASSERT_OK(verify_mem(m, "abc256.txt", "abc", 3));
	ASSERT_OK(verify_mem(m, "abc512.txt", "abc", 3));
	ASSERT_ERR(verify_mem(m, "abc256.txt", "abd", 3), -EBADMSG,
		   "abc256.txt: SHA256 digest mismatch (manifest says "
		   "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad, file has ");
	ASSERT_ERR(verify_mem(m, "abc1.txt", "", 0), -EBADMSG, "file has da39a3ee5e6b4b0d");

	/* an empty file: one progress call, at the end */
	ASSERT_OK(source_mem_new("", 0, "empty.txt", &s, E));
	ASSERT_OK(manifest_verify(manifest_find(m, "empty.txt"), s, record, &c, E));
	ASSERT_EQ(c.n, 1);
	ASSERT_EQ(c.done[0], 0);
	source_unref(s);
	manifest_free(m);
}

/* A digest that differs only in its last digit is shown whole, so the difference shows. */
TEST(mismatch_shows_whole_digests)
{
	char text[256], want[sizeof(abc_sha256)];
	const char *wantp = want; /* ASSERT_ERR takes NULL or a pointer */
	struct manifest *m;

	snprintf(want, sizeof(want), "%s", abc_sha256);
	want[63] = 'e';
	snprintf(text, sizeof(text), "SHA256(x.vmdk)= %s\n", want);
	m = parse(text);
	ASSERT_ERR(verify_mem(m, "x.vmdk", "abc", 3), -EBADMSG, wantp);
	ASSERT(strstr(E->msg, abc_sha256));
	manifest_free(m);
}

/* What sha*sum says about the file at path: its hex digest, checked for shape. */
static void tool_digest(const char *tool, const char *path, char *out, size_t hex_len)
{
	char cmd[512], line[512];
	FILE *f;
	size_t n;

	snprintf(cmd, sizeof(cmd), "%s '%s'", tool, path);
	f = popen(cmd, "r");
	ASSERT(f);
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	ASSERT_EQ(pclose(f), 0);
	n = strspn(line, "0123456789abcdef");
	if (n != hex_len || line[n] != ' ')
		HARNESS_FAIL("%s printed \"%s\"", cmd, line);
	memcpy(out, line, n);
	out[n] = '\0';
}

static void fill_random(unsigned char *buf, size_t len)
{
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	size_t done = 0;

	ASSERT(fd >= 0);
	while (done < len) {
		ssize_t r = read(fd, buf + done, len - done);

		ASSERT(r > 0);
		done += (size_t)r;
	}
	close(fd);
}

/* Digests of ~3 MiB of random bytes (three whole 1 MiB reads and a short one), checked
 * against coreutils, from a file and from memory; then one byte flipped. */
TEST(digests_match_coreutils)
{
	static const struct {
		const char *tool, *algo, *file;
		size_t hex_len;
	} tools[] = {
		{ "sha1sum", "SHA1", "disk-sha1.vmdk", 40 },
		{ "sha256sum", "SHA256", "disk-sha256.vmdk", 64 },
		{ "sha512sum", "SHA512", "disk-sha512.vmdk", 128 },
	};
	const size_t len = 3 * MIB + 17;
	char path[] = "/tmp/vmfs-test-manifest-XXXXXX";
	char hex[3][129], text[1024];
	size_t pos = 0;
	unsigned char *data = malloc(len);
	struct manifest *m;
	int fd;

	ASSERT(data);
	fill_random(data, len);
	fd = mkstemp(path);
	ASSERT(fd >= 0);
	ASSERT(pwrite(fd, data, len, 0) == (ssize_t)len);
	for (unsigned i = 0; i < 3; i++) {
		tool_digest(tools[i].tool, path, hex[i], tools[i].hex_len);
		pos += (size_t)snprintf(text + pos, sizeof(text) - pos, "%s(%s)= %s\n",
					tools[i].algo, tools[i].file, hex[i]);
	}
	m = parse(text);
	ASSERT_EQ(manifest_count(m), 3);
	for (unsigned i = 0; i < 3; i++) {
		const struct manifest_entry *e = manifest_entry(m, i);
		struct source *s;

		ASSERT_STREQ(e->name, tools[i].file);
		ASSERT_DIGEST(e, hex[i]);
		ASSERT_OK(source_file_open(path, tools[i].file, &s, E));
		ASSERT_OK(manifest_verify(e, s, NULL, NULL, E));
		source_unref(s);
		ASSERT_OK(verify_mem(m, tools[i].file, data, len));
	}

	/* one byte flipped in the middle of the second read */
	data[MIB + MIB / 2] ^= 0x01;
	ASSERT(pwrite(fd, data + MIB + MIB / 2, 1, MIB + MIB / 2) == 1);
	for (unsigned i = 0; i < 3; i++) {
		const struct manifest_entry *e = manifest_entry(m, i);
		char want[512];
		const char *wantp = want;
		struct source *s;

		snprintf(want, sizeof(want), "%s: %s digest mismatch (manifest says %s, file has ",
			 tools[i].file, tools[i].algo, hex[i]);
		ASSERT_OK(source_file_open(path, tools[i].file, &s, E));
		ASSERT_ERR(manifest_verify(e, s, NULL, NULL, E), -EBADMSG, wantp);
		source_unref(s);
		ASSERT_ERR(verify_mem(m, tools[i].file, data, len), -EBADMSG, wantp);
	}
	manifest_free(m);
	close(fd);
	unlink(path);
	free(data);
}

/* A source that fails after its first MiB, like a disk with a bad sector. */
TEST(read_error_names_file)
{
	const struct manifest_entry e = { .name = (char *)"d.vmdk", .algo = MANIFEST_SHA256,
					  .digest_len = 32 };
	char path[] = "/tmp/vmfs-test-manifest-XXXXXX";
	struct source *s;
	int fd = mkstemp(path);

	ASSERT(fd >= 0);
	ASSERT(ftruncate(fd, 3 * MIB) == 0);
	ASSERT_OK(source_file_open(path, "guest.ova:d.vmdk", &s, E));
	/* the file shrinks under us: the source reports -EIO, we name the file and offset */
	ASSERT(ftruncate(fd, MIB) == 0);
	ASSERT_ERR(manifest_verify(&e, s, NULL, NULL, E), -EIO,
		   "guest.ova:d.vmdk: cannot read at offset 1048576 to verify its SHA256 digest");
	source_unref(s);
	close(fd);
	unlink(path);
}

TEST(progress_every_few_mib_and_at_the_end)
{
	const struct manifest_entry e = { .name = (char *)"big.vmdk", .algo = MANIFEST_SHA512,
					  .digest_len = 64 };
	const size_t len = 9 * MIB + 17;
	unsigned char *data = calloc(1, len);
	struct calls c = { 0 };
	struct source *s;

	ASSERT(data);
	ASSERT_OK(source_mem_new(data, len, "big.vmdk", &s, E));
	free(data);
	ASSERT_ERR(manifest_verify(&e, s, record, &c, E), -EBADMSG, "big.vmdk: SHA512 digest");
	ASSERT_EQ(c.n, 3);
	ASSERT_EQ(c.done[0], 4 * MIB);
	ASSERT_EQ(c.done[1], 8 * MIB);
	ASSERT_EQ(c.done[2], len);
	source_unref(s);
}

/* Everything the master side of a pty has to read within 200 ms. */
static size_t drain(int fd, char *buf, size_t size)
{
	size_t n = 0;

	while (n + 1 < size) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 200) <= 0)
			break;
		r = read(fd, buf + n, size - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	return n;
}

TEST(progress_bar_on_a_tty_only)
{
	struct manifest_progress bar = { .label = "disk1.vmdk", .total = 1000ull * MIB };
	struct termios t;
	char out[512];
	int master, slave, pipefd[2];

	master = posix_openpt(O_RDWR | O_NOCTTY);
	ASSERT(master >= 0);
	ASSERT(grantpt(master) == 0 && unlockpt(master) == 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	ASSERT(slave >= 0);
	/* raw: see the bytes we wrote, not "\n" turned into "\r\n" */
	ASSERT(tcgetattr(slave, &t) == 0);
	cfmakeraw(&t);
	ASSERT(tcsetattr(slave, TCSANOW, &t) == 0);

	bar.fd = slave;
	manifest_progress_bar(&bar, 420ull * MIB);
	manifest_progress_bar(&bar, 420ull * MIB + 1); /* same percentage: not redrawn */
	manifest_progress_bar(&bar, 1000ull * MIB - 1); /* not the end yet */
	manifest_progress_bar(&bar, 1000ull * MIB);
	manifest_progress_bar(&bar, 1000ull * MIB); /* already finished */
	drain(master, out, sizeof(out));
	ASSERT_STREQ(out, "\rverifying disk1.vmdk  42% (420 MiB of 1000 MiB)"
			  "\rverifying disk1.vmdk  99% (999 MiB of 1000 MiB)"
			  "\rverifying disk1.vmdk 100% (1000 MiB of 1000 MiB)\n");

	/* an empty file is finished at once */
	bar = (struct manifest_progress){ .label = "empty", .total = 0, .fd = slave };
	manifest_progress_bar(&bar, 0);
	drain(master, out, sizeof(out));
	ASSERT_STREQ(out, "\rverifying empty 100% (0 MiB of 0 MiB)\n");

	/* not a tty: silent */
	ASSERT(pipe(pipefd) == 0);
	bar = (struct manifest_progress){ .label = "disk1.vmdk", .total = 10, .fd = pipefd[1] };
	manifest_progress_bar(&bar, 5);
	manifest_progress_bar(&bar, 10);
	close(pipefd[1]);
	ASSERT_EQ(read(pipefd[0], out, sizeof(out)), 0);
	close(pipefd[0]);
	close(slave);
	close(master);
}

/* ------------------------------------------------------------------------------------ */
/* Parsing */

TEST(spellings_of_real_writers)
{
	char text[2048];
	const struct manifest_entry *e;
	struct manifest *m;

	snprintf(text, sizeof(text),
		 "\xef\xbb\xbf"                           /* BOM */
		 "SHA1(disk1.vmdk)= %s\r\n"               /* ovftool, CRLF */
		 "\r\n"
		 "SHA256 (my disk (copy).vmdk) = %s\r\n"  /* govc; parentheses in the name */
		 "  sha512(odd)= name.ovf)=%s\t \n"       /* ")=" in the name, no blank after */
		 "\n\n"
		 "SHA256(x=y.iso)   =   %s",              /* no final newline */
		 abc_sha1, "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
		 abc_sha512, empty_sha256);
	m = parse(text);
	ASSERT_EQ(manifest_count(m), 4);

	e = manifest_entry(m, 0);
	ASSERT_STREQ(e->name, "disk1.vmdk");
	ASSERT_EQ(e->algo, MANIFEST_SHA1);
	ASSERT_EQ(e->digest_len, 20);
	ASSERT_EQ(e->line, 1);
	ASSERT_DIGEST(e, abc_sha1);

	e = manifest_entry(m, 1);
	ASSERT_STREQ(e->name, "my disk (copy).vmdk");
	ASSERT_EQ(e->algo, MANIFEST_SHA256);
	ASSERT_EQ(e->line, 3);
	ASSERT_DIGEST(e, abc_sha256);

	e = manifest_entry(m, 2);
	ASSERT_STREQ(e->name, "odd)= name.ovf");
	ASSERT_EQ(e->algo, MANIFEST_SHA512);
	ASSERT_EQ(e->digest_len, 64);
	ASSERT_EQ(e->line, 4);
	ASSERT_DIGEST(e, abc_sha512);

	e = manifest_entry(m, 3);
	ASSERT_STREQ(e->name, "x=y.iso");
	ASSERT_EQ(e->line, 7);
	ASSERT_DIGEST(e, empty_sha256);

	ASSERT(manifest_find(m, "my disk (copy).vmdk") == manifest_entry(m, 1));
	ASSERT(manifest_find(m, "DISK1.VMDK") == NULL);
	ASSERT(manifest_find(m, "disk1") == NULL);
	ASSERT_STREQ(manifest_algo_name(manifest_entry(m, 2)->algo), "SHA512");
	ASSERT_OK(verify_mem(m, "my disk (copy).vmdk", "abc", 3));
	manifest_free(m);
}

TEST(empty_manifests)
{
	struct manifest *m = parse("");

	ASSERT_EQ(manifest_count(m), 0);
	ASSERT(manifest_find(m, "x") == NULL);
	manifest_free(m);
	m = parse("\xef\xbb\xbf\n\r\n \t \n");
	ASSERT_EQ(manifest_count(m), 0);
	manifest_free(m);
	/* a BOM only counts at the start */
	PARSE_FAILS("\n\r\n \t \n\xef\xbb\xbf\n", -EINVAL, "t.mf: line 4: not a digest line");
	manifest_free(NULL);
}

TEST(bad_lines_name_the_line)
{
	char text[1024];

	snprintf(text, sizeof(text), "SHA1(a)= %s\n\nSHA1(b)= %s\ngarbage here\n", abc_sha1,
		 abc_sha1);
	PARSE_FAILS(text, -EINVAL, "t.mf: line 4: not a digest line");
	snprintf(text, sizeof(text), "SHA1(a) %s\n", abc_sha1);
	PARSE_FAILS(text, -EINVAL, "t.mf: line 1: not a digest line");
	snprintf(text, sizeof(text), "SHA1 a)= %s\n", abc_sha1);
	PARSE_FAILS(text, -EINVAL, "line 1: not a digest line");
	snprintf(text, sizeof(text), "SHA1(a= %s\n", abc_sha1);
	PARSE_FAILS(text, -EINVAL, "line 1: not a digest line");
	snprintf(text, sizeof(text), "(a)= %s\n", abc_sha1);
	PARSE_FAILS(text, -EINVAL, "line 1: not a digest line");
	snprintf(text, sizeof(text), "SHA1(=%s\n", abc_sha1);
	PARSE_FAILS(text, -EINVAL, "line 1: not a digest line");
	snprintf(text, sizeof(text), "%s  disk1.vmdk\n", abc_sha1); /* sha1sum's own format */
	PARSE_FAILS(text, -EINVAL, "line 1: not a digest line");
	snprintf(text, sizeof(text), "SHA1()= %s\n", abc_sha1);
	PARSE_FAILS(text, -EINVAL, "t.mf: line 1: empty file name");
	snprintf(text, sizeof(text), "SHA1(a\x01" "b)= %s\n", abc_sha1);
	PARSE_FAILS(text, -EINVAL, "t.mf: line 1: control character 0x01");
	parse_fails("SHA1(a\0b)= 00\n", 14, -EINVAL, "t.mf: line 1: control character 0x00");
	parse_fails("\n\n\n\0", 4, -EINVAL, "t.mf: line 4: control character 0x00");
}

TEST(digest_must_fit_the_algorithm)
{
	char text[1024];

	snprintf(text, sizeof(text), "SHA1(a)= %s\n", abc_sha256);
	PARSE_FAILS(text, -EINVAL,
		    "t.mf: line 1: SHA1 digest of \"a\" has 64 hex digits, expected 40");
	snprintf(text, sizeof(text), "SHA256(b b)= %.63s\n", abc_sha256);
	PARSE_FAILS(text, -EINVAL,
		    "line 1: SHA256 digest of \"b b\" has 63 hex digits, expected 64");
	snprintf(text, sizeof(text), "SHA512(c)= %s\n", abc_sha256);
	PARSE_FAILS(text, -EINVAL, "SHA512 digest of \"c\" has 64 hex digits, expected 128");
	PARSE_FAILS("SHA1(a)=\n", -EINVAL, "SHA1 digest of \"a\" has 0 hex digits, expected 40");
	PARSE_FAILS("SHA1(a)= a9993e364706816aba3e 25717850c26c9cd0d89d\n", -EINVAL,
		    "line 1: digest of \"a\" is not hexadecimal");
	PARSE_FAILS("SHA1(a)= g9993e364706816aba3e25717850c26c9cd0d89d\n", -EINVAL,
		    "not hexadecimal");
	PARSE_FAILS("SHA1(a)= 0xa9993e364706816aba3e25717850c26c9cd0d89d\n", -EINVAL,
		    "not hexadecimal");
}

TEST(unknown_algorithms_are_named)
{
	char text[1024];

	snprintf(text, sizeof(text), "SHA1(a)= %s\nMD5(x)= 900150983cd24fb0d6963f7d28e17f72\n",
		 abc_sha1);
	PARSE_FAILS(text, -ENOTSUP, "t.mf: line 2: digest algorithm MD5 is not supported");
	PARSE_FAILS("SHA384(x)= 00\n", -ENOTSUP, "algorithm SHA384 is not supported");
	PARSE_FAILS("SHA-256(x)= 00\n", -ENOTSUP, "algorithm SHA-256 is not supported");
	PARSE_FAILS("SHA256SUM(x)= 00\n", -ENOTSUP, "algorithm SHA256SUM is not");
	memset(text, 'A', 200);
	strcpy(text + 200, "(x)= 00\n");
	PARSE_FAILS(text, -ENOTSUP, "algorithm AAAAAAAAAAAAAAAA... is not supported");
}

TEST(duplicates)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "SHA1(a)= %s\nSHA1(b)= %s\nSHA256(a)= %s\nSHA1(b)= %s\nSHA1(a )= %s\n",
		 abc_sha1, abc_sha1, abc_sha256, abc_sha1, abc_sha1);
	PARSE_FAILS(text, -EINVAL, "t.mf: line 3: \"a\" is listed twice (first on line 1)");
	/* names differ in case or in blanks: different files */
	snprintf(text, sizeof(text), "SHA1(a)= %s\nSHA1(A)= %s\nSHA1(a )= %s\n", abc_sha1,
		 abc_sha1, abc_sha1);
	manifest_free(parse(text));
}

/* 4096 lines of 256 bytes: exactly both caps. */
static char *build_max(size_t *ret_len)
{
	const size_t line = 256;
	char *text = malloc(MANIFEST_MAX_LINES * line + 2);

	ASSERT(text);
	for (unsigned i = 0; i < MANIFEST_MAX_LINES; i++) {
		char *p = text + i * line;
		/* "SHA1(" "f0000-" padding ")= " 40 hex "\n": the padding fills the rest */
		int pad = (int)line - 5 - 6 - 3 - 41;
		int n = snprintf(p, line + 1, "SHA1(f%04u-%0*u)= %s\n", i, pad, 0, abc_sha1);

		ASSERT_EQ(n, (int)line);
	}
	*ret_len = MANIFEST_MAX_LINES * line;
	return text;
}

TEST(caps)
{
	struct manifest *m;
	size_t len;
	char *text = build_max(&len);

	ASSERT_EQ(len, MANIFEST_MAX_BYTES);
	ASSERT_OK(manifest_parse(text, len, "t.mf", &m, E));
	ASSERT_EQ(manifest_count(m), MANIFEST_MAX_LINES);
	ASSERT(manifest_find(m, manifest_entry(m, 4095)->name) == manifest_entry(m, 4095));
	manifest_free(m);

	/* one byte more */
	text[len] = '\n';
	parse_fails(text, len + 1, -EFBIG,
		    "t.mf: manifest is 1048577 bytes, over the cap of 1048576");

	/* a duplicate on the last line is found */
	memcpy(text + 4095 * 256, text, 256);
	parse_fails(text, len, -EINVAL, "line 4096: \"f0000-");
	ASSERT(strstr(E->msg, "is listed twice (first on line 1)"));
	free(text);

	/* lines, blank or not, count towards the cap */
	text = calloc(1, MANIFEST_MAX_LINES + 2);
	ASSERT(text);
	memset(text, '\n', MANIFEST_MAX_LINES);
	ASSERT_OK(manifest_parse(text, MANIFEST_MAX_LINES, "t.mf", &m, E));
	ASSERT_EQ(manifest_count(m), 0);
	manifest_free(m);
	text[MANIFEST_MAX_LINES] = 'x'; /* an unterminated last line is a line */
	parse_fails(text, MANIFEST_MAX_LINES + 1, -EFBIG,
		    "t.mf: manifest has 4097 lines, over the cap of 4096");
	free(text);
}

/* ------------------------------------------------------------------------------------ */
/* Real-world manifests */

static struct manifest *parse_data(const char *rel)
{
	struct manifest *m;
	char path[2048];
	char *text;
	size_t len;

	testdata_path(path, sizeof(path), "VMFS_MANIFEST_DATA", "manifest", rel);
	if (!testdata_read(path, &text, &len))
		HARNESS_FAIL("cannot read %s (set VMFS_MANIFEST_DATA to tests/data/manifest)",
			     path);
	err_clear(E);
	if (manifest_parse(text, len, rel, &m, E) < 0) {
		free(text);
		HARNESS_FAIL("%s does not parse", path);
	}
	free(text);
	return m;
}

/* VirtualBox, OVF 2.0 (COT's tests): its first line vouches for a descriptor we keep. */
TEST(virtualbox_manifest)
{
	struct manifest *m = parse_data("ubuntu.2.0.mf");
	const struct manifest_entry *e;
	struct source *s;
	char path[2048];

	ASSERT_EQ(manifest_count(m), 2);
	e = manifest_entry(m, 0);
	ASSERT_STREQ(e->name, "ubuntu.2.0.ovf");
	ASSERT_EQ(e->algo, MANIFEST_SHA256);
	ASSERT_DIGEST(e, "4aacc96f73bc1e0912414b80a576f62fa8d22386a2c34c489e88ee42ec71de9b");
	e = manifest_entry(m, 1);
	ASSERT_STREQ(e->name, "ubuntu.2.0-disk1.vmdk");
	ASSERT_EQ(e->algo, MANIFEST_SHA256);
	ASSERT_DIGEST(e, "4a218c15a1e8aed26cb0a2a533562e85a9f28956a6666181d0c9bb7ba58b5b06");

	testdata_path(path, sizeof(path), "VMFS_OVF_DATA", "ovf", "cot/ubuntu.2.0.ovf");
	ASSERT_OK(source_file_open(path, "ubuntu.2.0.ovf", &s, E));
	ASSERT_OK(manifest_verify(manifest_find(m, "ubuntu.2.0.ovf"), s, NULL, NULL, E));
	/* and the disk's digest is not the descriptor's */
	ASSERT_ERR(manifest_verify(manifest_find(m, "ubuntu.2.0-disk1.vmdk"), s, NULL, NULL, E),
		   -EBADMSG, "ubuntu.2.0.ovf: SHA256 digest mismatch (manifest says 4a218c15");
	source_unref(s);
	manifest_free(m);
}

/* "SHA1 (name) = hex", blanks around '(' and '=' (govmomi's ttylinux OVA). */
TEST(govmomi_manifest)
{
	struct manifest *m = parse_data("ttylinux-pc_i486-16.1.mf");
	const struct manifest_entry *e;

	ASSERT_EQ(manifest_count(m), 2);
	e = manifest_entry(m, 0);
	ASSERT_STREQ(e->name, "ttylinux-pc_i486-16.1.ovf");
	ASSERT_EQ(e->algo, MANIFEST_SHA1);
	ASSERT_DIGEST(e, "06271f767e0d5671c67e4edeaa2c157cabb66c2b");
	e = manifest_find(m, "ttylinux-pc_i486-16.1-disk1.vmdk");
	ASSERT(e);
	ASSERT_EQ(e->line, 2);
	ASSERT_DIGEST(e, "648e20a1e1625b1bb963b08c926bc18e62f15dfc");
	manifest_free(m);
}

struct corpus_run {
	unsigned manifests, verified, absent, bad;
};

/* Parse one corpus manifest and verify each listed file that sits beside it. */
static void corpus_manifest(const char *path, const char *name, void *ctx)
{
	struct corpus_run *run = ctx;
	struct manifest *m;
	struct err e = { 0 };
	char dir[4096], tmp[4096];
	char *text;
	size_t len;

	(void)name;
	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(dir, sizeof(dir), "%s", dirname(tmp));
	if (!testdata_read(path, &text, &len)) {
		printf("  cannot read %s\n", path);
		run->bad++;
		return;
	}
	if (manifest_parse(text, len, path, &m, &e) < 0) {
		printf("  %s\n", e.msg);
		free(text);
		run->bad++;
		return;
	}
	free(text);
	run->manifests++;
	for (size_t i = 0; i < manifest_count(m); i++) {
		const struct manifest_entry *me = manifest_entry(m, i);
		char file[8192];
		struct source *s = NULL;

		snprintf(file, sizeof(file), "%s/%s", dir, me->name);
		if (access(file, R_OK) < 0) {
			run->absent++;
			continue;
		}
		if (source_file_open(file, me->name, &s, &e) < 0 ||
		    manifest_verify(me, s, NULL, NULL, &e) < 0) {
			printf("  %s: %s\n", path, e.msg);
			err_clear(&e);
			run->bad++;
		} else {
			run->verified++;
		}
		source_unref(s);
	}
	manifest_free(m);
}

TEST(shared_corpus)
{
	const char *dir = testdata_corpus();
	struct corpus_run run = { 0 };

	if (!dir)
		return;
	testdata_walk(dir, ".mf", 16, corpus_manifest, &run);
	printf("  corpus: %u manifests, %u files verified, %u listed but absent\n", run.manifests,
	       run.verified, run.absent);
	ASSERT_EQ(run.bad, 0);
	ASSERT(run.manifests > 0 && run.verified > 0);
}

HARNESS_MAIN
