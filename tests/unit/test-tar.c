/* SPDX-License-Identifier: MIT */
/*
 * OVA/OVF package sources: the tar member index (against archives written by GNU tar
 * and Python's tarfile, whose own idea of each data offset is the oracle), gzip members
 * read at random offsets (against the original bytes), and concatenated chunks.
 * Fixtures are made at test time in a mkdtemp directory removed at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../formats/common/bounds.h"
#include "../../formats/source/chunks.h"
#include "../../formats/source/gzip.h"
#include "../../formats/source/source.h"
#include "../../formats/source/tar.h"
#include "../lib/harness.h"

/* ---- fixtures ---- */

static char tdir[64];

__attribute__((destructor)) static void tdir_remove(void)
{
	char cmd[128];

	if (tdir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tdir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tdir);
	}
}

static const char *dir(void)
{
	if (!tdir[0]) {
		strcpy(tdir, "/tmp/vmfs-test-tar-XXXXXX");
		ASSERT(mkdtemp(tdir));
	}
	return tdir;
}

/* A path in the test directory (one of a few rotating buffers). */
static const char *P(const char *name)
{
	static char bufs[8][512];
	static unsigned k;
	char *b = bufs[k++ % 8];

	snprintf(b, sizeof(bufs[0]), "%s/%s", dir(), name);
	return b;
}

/* Run a shell command in the test directory; it must succeed. */
__attribute__((format(printf, 1, 2))) static void sh(const char *fmt, ...)
{
	char cmd[4096];
	int n, st;
	va_list ap;

	n = snprintf(cmd, sizeof(cmd), "cd '%s' && ", dir());
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	st = system(cmd);
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		HARNESS_FAIL("command failed: %s", cmd);
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ASSERT(fd >= 0);
	ASSERT(write(fd, data, len) == (ssize_t)len);
	close(fd);
}

/* The whole file, malloc'd (the caller frees). */
static unsigned char *slurp(const char *path, size_t *len)
{
	struct stat st;
	unsigned char *b;
	int fd = open(path, O_RDONLY);

	ASSERT(fd >= 0);
	ASSERT(fstat(fd, &st) == 0);
	b = malloc((size_t)st.st_size + 1);
	ASSERT(b);
	ASSERT(read(fd, b, (size_t)st.st_size) == st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return b;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* len bytes that mix incompressible, text-like and zero stretches. */
static unsigned char *mixed_data(size_t len)
{
	unsigned char *b = malloc(len);
	size_t i;

	ASSERT(b);
	for (i = 0; i < len; i++) {
		switch ((i / 65536) % 3) {
		case 0:
			b[i] = (unsigned char)rnd();
			break;
		case 1:
			b[i] = "the quick brown fox jumps over the lazy dog\n"[i % 44];
			if (rnd() % 97 == 0)
				b[i] = (unsigned char)('A' + rnd() % 26);
			break;
		default:
			b[i] = 0;
		}
	}
	return b;
}

/* The source's bytes equal data[0..len), read in odd-sized pieces. */
static void assert_source_is(struct source *s, const unsigned char *data, size_t len)
{
	unsigned char *buf = malloc(65536 + 7);
	size_t off = 0;

	ASSERT(buf);
	ASSERT_U64_EQ(s->size, len);
	while (off < len) {
		size_t n = MIN(65536 + 7, len - off);

		ASSERT_OK(source_pread(s, buf, n, off));
		if (memcmp(buf, data + off, n) != 0) {
			free(buf);
			HARNESS_FAIL("%s differs in [%zu, %zu)", s->name, off, off + n);
		}
		off += n;
	}
	free(buf);
}

/* Member name of idx equals the file at path. */
static void assert_member_is_file(struct tar_index *idx, const char *name, const char *path)
{
	struct source *m;
	unsigned char *data;
	size_t len;
	int i = tar_find(idx, name);

	if (i < 0)
		HARNESS_FAIL("member %s not found", name);
	ASSERT_OK(tar_member_source(idx, (size_t)i, &m, E));
	data = slurp(path, &len);
	assert_source_is(m, data, len);
	free(data);
	source_unref(m);
}

static int open_tar(const char *file, struct tar_index **idx)
{
	struct source *s;
	int r;

	ASSERT_OK(source_file_open(P(file), file, &s, E));
	r = tar_index_open(s, idx, E);
	source_unref(s);
	return r;
}

/* The usual package contents in src/. */
static void make_src(void)
{
	unsigned char *d = mixed_data(300001);

	sh("rm -rf src && mkdir -p src/sub");
	write_file(P("src/vm.ovf"), "<Envelope/>\n", 12);
	write_file(P("src/disk1.vmdk"), d, 300001);
	write_file(P("src/vm.mf"), "SHA256(vm.ovf)= 00\n", 19);
	write_file(P("src/empty.txt"), "", 0);
	write_file(P("src/sub/x.bin"), d + 1000, 513);
	free(d);
}

/* ---- tar: archives from GNU tar ---- */

static void check_gnu_tar(const char *format)
{
	struct tar_index *idx;
	const struct tar_member *m;

	make_src();
	sh("tar --format=%s -cf t.tar -C src vm.ovf sub disk1.vmdk empty.txt vm.mf", format);
	ASSERT_OK(open_tar("t.tar", &idx));
	ASSERT_EQ(tar_count(idx), 5); /* the directory sub/ is not a member */
	m = tar_member(idx, 0);
	ASSERT_STREQ(m->name, "vm.ovf");
	ASSERT_U64_EQ(m->size, 12);
	ASSERT_STREQ(tar_member(idx, 1)->name, "sub/x.bin");
	ASSERT_STREQ(tar_member(idx, 4)->name, "vm.mf");
	ASSERT(tar_member(idx, 5) == NULL);
	assert_member_is_file(idx, "vm.ovf", P("src/vm.ovf"));
	assert_member_is_file(idx, "disk1.vmdk", P("src/disk1.vmdk"));
	assert_member_is_file(idx, "vm.mf", P("src/vm.mf"));
	assert_member_is_file(idx, "empty.txt", P("src/empty.txt"));
	assert_member_is_file(idx, "sub/x.bin", P("src/sub/x.bin"));
	ASSERT_EQ(tar_find(idx, "./vm.ovf"), 0);
	ASSERT_EQ(tar_find(idx, "nope"), -ENOENT);
	ASSERT_EQ(tar_find(idx, "sub"), -ENOENT);
	tar_index_free(idx);

	/* the .ovf last, names with "./", the directory "." */
	sh("tar --format=%s -cf t2.tar -C src ./disk1.vmdk ./vm.mf ./vm.ovf", format);
	ASSERT_OK(open_tar("t2.tar", &idx));
	ASSERT_EQ(tar_count(idx), 3);
	ASSERT_STREQ(tar_member(idx, 2)->name, "vm.ovf");
	assert_member_is_file(idx, "vm.ovf", P("src/vm.ovf"));
	assert_member_is_file(idx, "disk1.vmdk", P("src/disk1.vmdk"));
	tar_index_free(idx);
	sh("tar --format=%s -cf t3.tar -C src .", format);
	ASSERT_OK(open_tar("t3.tar", &idx));
	ASSERT_EQ(tar_count(idx), 5);
	assert_member_is_file(idx, "sub/x.bin", P("src/sub/x.bin"));
	tar_index_free(idx);
}

TEST(tar_gnu_format)
{
	check_gnu_tar("gnu");
}

TEST(tar_pax_format)
{
	check_gnu_tar("pax");
}

TEST(tar_ustar_format)
{
	check_gnu_tar("ustar");
}

TEST(tar_gnu_tar_long_names)
{
	static const char *fmts[] = { "gnu", "pax" };
	char name[300];
	struct tar_index *idx;
	size_t f;

	memset(name, 'n', 200);
	memcpy(name + 200, ".vmdk", 6);
	make_src();
	for (f = 0; f < 2; f++) {
		sh("cp src/disk1.vmdk 'src/sub/%s' && tar --format=%s -cf l.tar -C src vm.ovf "
		   "'sub/%s' vm.mf",
		   name, fmts[f], name);
		ASSERT_OK(open_tar("l.tar", &idx));
		ASSERT_EQ(tar_count(idx), 3);
		ASSERT_EQ(strlen(tar_member(idx, 1)->name), 4 + 205);
		ASSERT_STREQ(tar_member(idx, 1)->name + 4, name);
		assert_member_is_file(idx, "vm.mf", P("src/vm.mf"));
		tar_index_free(idx);
		ASSERT_OK(open_tar("l.tar", &idx));
		{
			char full[320];

			snprintf(full, sizeof(full), "sub/%s", name);
			assert_member_is_file(idx, full, P("src/disk1.vmdk"));
		}
		tar_index_free(idx);
	}
}

/* ---- tar: archives from Python's tarfile, whose offset_data is the oracle ---- */

static const char py_make[] =
	"import io, sys, tarfile\n"
	"out, fmt = sys.argv[1], sys.argv[2]\n"
	"F = {'pax': tarfile.PAX_FORMAT, 'gnu': tarfile.GNU_FORMAT}[fmt]\n"
	"names = ['vm.ovf', 'd/' + 'a' * 120 + '.vmdk',\n"
	"         'e/' + 'b' * 150 + '/' + 'c' * 150 + '.vmdk', 'vm.mf']\n"
	"if fmt == 'pax':\n"
	"    names.append('\\u00fcmlaut-disk.vmdk')\n"
	"glob = {'comment': 'a global pax header'} if fmt == 'pax' else None\n"
	"with tarfile.open(out, 'w', format=F, pax_headers=glob) as t:\n"
	"    for i, n in enumerate(names):\n"
	"        data = bytes((i * 7 + j * 13 + j // 251) & 255 for j in range(100 + i * 23457))\n"
	"        open('%s.%d' % (out, i), 'wb').write(data)\n"
	"        ti = tarfile.TarInfo(n)\n"
	"        ti.size = len(data)\n"
	"        ti.mtime = 1700000000.25 if fmt == 'pax' else 1700000000\n"
	"        ti.uid = 3000000\n"
	"        ti.uname = 'user' * 10\n"
	"        if fmt == 'pax':\n"
	"            ti.pax_headers = {'comment': 'x' * 700}\n"
	"        t.addfile(ti, io.BytesIO(data))\n"
	"with tarfile.open(out) as t, open(out + '.idx', 'w', encoding='utf-8') as f:\n"
	"    for m in t.getmembers():\n"
	"        f.write('%d %d %s\\n' % (m.offset_data, m.size, m.name))\n";

static void check_python_tar(const char *fmt)
{
	struct tar_index *idx;
	char line[1024], file[64];
	FILE *f;
	size_t i = 0;

	write_file(P("mk.py"), py_make, sizeof(py_make) - 1);
	sh("python3 mk.py py.tar %s", fmt);
	ASSERT_OK(open_tar("py.tar", &idx));
	f = fopen(P("py.tar.idx"), "r");
	ASSERT(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long off, size;
		int n = 0;
		const struct tar_member *m = tar_member(idx, i);

		line[strcspn(line, "\n")] = '\0';
		ASSERT(sscanf(line, "%llu %llu %n", &off, &size, &n) == 2);
		ASSERT(m);
		ASSERT_STREQ(m->name, line + n);
		ASSERT_U64_EQ(m->data_off, off);
		ASSERT_U64_EQ(m->size, size);
		ASSERT_EQ(m->mtime, 1700000000);
		ASSERT_EQ(tar_find(idx, line + n), (int)i);
		snprintf(file, sizeof(file), "py.tar.%zu", i);
		assert_member_is_file(idx, m->name, P(file));
		i++;
	}
	fclose(f);
	ASSERT_EQ(tar_count(idx), i);
	ASSERT(i >= 4);
	tar_index_free(idx);
}

TEST(tar_python_pax_long_names_and_headers)
{
	check_python_tar("pax");
}

TEST(tar_python_gnu_long_names)
{
	check_python_tar("gnu");
}

/* ---- tar: crafted headers ---- */

static void octal(unsigned char *f, size_t len, uint64_t v)
{
	size_t i;

	memset(f, '0', len - 1);
	f[len - 1] = '\0';
	for (i = len - 1; i-- > 0 && v; v >>= 3)
		f[i] = (unsigned char)('0' + (v & 7));
}

/* A ustar header for a regular file; base256 writes the size GNU's way. */
static void ustar_header(unsigned char *h, const char *name, char type, uint64_t size, bool base256)
{
	unsigned sum = 0;
	size_t i;

	memset(h, 0, 512);
	strncpy((char *)h, name, 100);
	octal(h + 100, 8, 0644);
	octal(h + 108, 8, 0);
	octal(h + 116, 8, 0);
	if (base256) {
		h[124] = 0x80;
		for (i = 0; i < 8; i++)
			h[135 - i] = (unsigned char)(size >> (8 * i));
	} else {
		octal(h + 124, 12, size);
	}
	octal(h + 136, 12, 1700000000);
	h[156] = (unsigned char)type;
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += h[i];
	octal(h + 148, 7, sum);
}

TEST(tar_base256_size_and_pax_size_override)
{
	unsigned char *t = calloc(1, 512 * 8);
	struct source *s, *m;
	struct tar_index *idx;
	unsigned char data[1000];
	const char *rec = "13 size=1000\n";
	size_t i;

	ASSERT(t);
	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 31);
	/* base-256 size */
	ustar_header(t, "b256.bin", '0', sizeof(data), true);
	memcpy(t + 512, data, sizeof(data));
	ASSERT_OK(source_mem_new(t, 512 * 6, "b256.tar", &s, E));
	ASSERT_OK(tar_index_open(s, &idx, E));
	source_unref(s);
	ASSERT_EQ(tar_count(idx), 1);
	ASSERT_U64_EQ(tar_member(idx, 0)->size, sizeof(data));
	ASSERT_U64_EQ(tar_member(idx, 0)->data_off, 512);
	ASSERT_OK(tar_member_source(idx, 0, &m, E));
	ASSERT_STREQ(m->name, "b256.tar:b256.bin");
	assert_source_is(m, data, sizeof(data));
	source_unref(m);
	tar_index_free(idx);

	/* a pax size= record over a ustar size field of 0 */
	memset(t, 0, 512 * 8);
	ustar_header(t, "PaxHeaders/p.bin", 'x', strlen(rec), false);
	memcpy(t + 512, rec, strlen(rec));
	ustar_header(t + 1024, "p.bin", '0', 0, false);
	memcpy(t + 1536, data, sizeof(data));
	ASSERT_OK(source_mem_new(t, 512 * 8, "pax.tar", &s, E));
	ASSERT_OK(tar_index_open(s, &idx, E));
	source_unref(s);
	ASSERT_EQ(tar_count(idx), 1);
	ASSERT_U64_EQ(tar_member(idx, 0)->size, sizeof(data));
	ASSERT_U64_EQ(tar_member(idx, 0)->data_off, 1536);
	tar_index_free(idx);

	/* a GNU sparse ('S') header is refused */
	memset(t, 0, 512 * 8);
	ustar_header(t, "s.img", 'S', 0, false);
	ASSERT_OK(source_mem_new(t, 512 * 4, "s.tar", &s, E));
	ASSERT_ERR(tar_index_open(s, &idx, E), -ENOTSUP, "s.img");
	source_unref(s);

	/* a GNU multi-volume continuation; a type letter libarchive reads as a regular
	 * file although no other reader would */
	memset(t, 0, 512 * 8);
	ustar_header(t, "part.vmdk", 'M', 1000, false);
	memcpy(t + 512, data, sizeof(data));
	ASSERT_OK(source_mem_new(t, 512 * 6, "mv.tar", &s, E));
	ASSERT_ERR(tar_index_open(s, &idx, E), -ENOTSUP,
		   "mv.tar: member part.vmdk is not a regular file");
	source_unref(s);
	ustar_header(t, "q.vmdk", 'Q', 1000, false);
	ASSERT_OK(source_mem_new(t, 512 * 6, "q.tar", &s, E));
	ASSERT_ERR(tar_index_open(s, &idx, E), -ENOTSUP,
		   "q.tar: member q.vmdk has tar type 'Q', not a regular file");
	source_unref(s);
	free(t);
}

TEST(tar_empty_archive_and_too_many_members)
{
	size_t n = TAR_MAX_MEMBERS + 1, i;
	unsigned char *t = calloc(n + 2, 512);
	struct tar_index *idx;
	struct source *s;
	char name[32];

	ASSERT(t);
	ASSERT_OK(source_mem_new(t, 1024, "empty.tar", &s, E));
	ASSERT_OK(tar_index_open(s, &idx, E));
	ASSERT_EQ(tar_count(idx), 0);
	ASSERT_EQ(tar_find(idx, "x"), -ENOENT);
	tar_index_free(idx);
	source_unref(s);

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%zu", i);
		ustar_header(t + i * 512, name, '0', 0, false);
	}
	ASSERT_OK(source_mem_new(t, (n + 2) * 512, "many.tar", &s, E));
	free(t);
	ASSERT_ERR(tar_index_open(s, &idx, E), -EFBIG, "many.tar: more than 65536");
	source_unref(s);
}

/* ---- tar: refusals ---- */

TEST(tar_refuses_duplicates)
{
	struct tar_index *idx;

	make_src();
	sh("tar -cf dup.tar -C src vm.ovf disk1.vmdk && tar -rf dup.tar -C src vm.ovf");
	ASSERT_ERR(open_tar("dup.tar", &idx), -EINVAL, "dup.tar: member vm.ovf appears twice");
	/* "./x" and "x" are the same member */
	sh("tar -cf dup2.tar -C src vm.ovf && tar -rf dup2.tar -C src ./vm.ovf");
	ASSERT_ERR(open_tar("dup2.tar", &idx), -EINVAL, "appears twice");
}

TEST(tar_refuses_links)
{
	struct tar_index *idx;

	make_src();
	sh("ln -s vm.ovf src/lnk && tar -cf sym.tar -C src vm.ovf lnk");
	ASSERT_ERR(open_tar("sym.tar", &idx), -ENOTSUP, "sym.tar: member lnk is a symbolic link");
	sh("ln src/disk1.vmdk src/hard.vmdk && tar -cf hard.tar -C src disk1.vmdk hard.vmdk");
	ASSERT_ERR(open_tar("hard.tar", &idx), -ENOTSUP, "member hard.vmdk is a hard link");
}

TEST(tar_refuses_sparse)
{
	static const char *opts[] = { "--format=gnu", "--format=pax --sparse-version=0.1",
				      "--format=pax --sparse-version=1.0" };
	struct tar_index *idx;
	size_t i;

	sh("rm -rf sp && mkdir sp && truncate -s 4M sp/s.img && "
	   "printf data | dd of=sp/s.img bs=1 seek=2000000 conv=notrunc status=none");
	for (i = 0; i < 3; i++) {
		sh("tar %s --sparse -cf sparse.tar -C sp s.img", opts[i]);
		ASSERT_ERR(open_tar("sparse.tar", &idx), -ENOTSUP, "s.img is a sparse file");
	}
}

/* One archive per kind of bad member, each after a good vm.ovf: b-<kind>.tar. */
static const char py_bad[] =
	"import io, tarfile\n"
	"bad = {'dotdot': '../evil.vmdk', 'inner': 'a/../../b.vmdk', 'abs': '/etc/evil',\n"
	"       'dot': 'a/./b', 'chr': 'dev', 'fifo': 'fifo', 'longdot': 'x' * 200 + '/../y'}\n"
	"for kind, name in bad.items():\n"
	"    with tarfile.open('b-%s.tar' % kind, 'w', format=tarfile.PAX_FORMAT) as t:\n"
	"        ti = tarfile.TarInfo('vm.ovf'); ti.size = 3\n"
	"        t.addfile(ti, io.BytesIO(b'abc'))\n"
	"        ti = tarfile.TarInfo(name)\n"
	"        if kind == 'chr': ti.type = tarfile.CHRTYPE\n"
	"        elif kind == 'fifo': ti.type = tarfile.FIFOTYPE\n"
	"        else: ti.size = 2\n"
	"        t.addfile(ti, io.BytesIO(b'xy'))\n";

TEST(tar_refuses_unsafe_names_and_special_files)
{
	struct tar_index *idx;

	write_file(P("bad.py"), py_bad, sizeof(py_bad) - 1);
	sh("python3 bad.py");
	ASSERT_ERR(open_tar("b-dotdot.tar", &idx), -EINVAL,
		   "b-dotdot.tar: member ../evil.vmdk has a \"..\"");
	ASSERT_ERR(open_tar("b-inner.tar", &idx), -EINVAL, "a/../../b.vmdk has a \"..\"");
	ASSERT_ERR(open_tar("b-abs.tar", &idx), -EINVAL, "/etc/evil has an absolute name");
	ASSERT_ERR(open_tar("b-dot.tar", &idx), -EINVAL, "a/./b has an empty or \".\"");
	ASSERT_ERR(open_tar("b-chr.tar", &idx), -ENOTSUP, "member dev is not a regular file");
	ASSERT_ERR(open_tar("b-fifo.tar", &idx), -ENOTSUP, "member fifo is not a regular file");
	ASSERT_ERR(open_tar("b-longdot.tar", &idx), -EINVAL, "has a \"..\" path component");
}

TEST(tar_refuses_truncated_and_non_tar)
{
	struct tar_index *idx;
	unsigned char junk[4096];
	size_t i;

	make_src();
	sh("tar -cf full.tar -C src vm.ovf disk1.vmdk vm.mf && head -c 200000 full.tar > "
	   "cut.tar && head -c 1000 full.tar > cut2.tar");
	ASSERT_ERR(open_tar("cut.tar", &idx), -EINVAL,
		   "cut.tar: member disk1.vmdk: data 0x600+0x493e1 lies past the end");
	ASSERT_ERR(open_tar("cut2.tar", &idx), -EINVAL, "cut2.tar:");
	/* the last member's padding cut off */
	{
		size_t len;
		unsigned char *t = slurp(P("full.tar"), &len);

		write_file(P("nopad.tar"), t, 1024 + 512 + 300032 + 512 + 19);
		free(t);
	}
	ASSERT_ERR(open_tar("nopad.tar", &idx), -EINVAL, "nopad.tar: damaged tar archive");

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)rnd();
	write_file(P("junk.ova"), junk, sizeof(junk));
	ASSERT_ERR(open_tar("junk.ova", &idx), -EINVAL,
		   "junk.ova: not a tar archive (an OVA is an uncompressed tar)");
	write_file(P("zero.ova"), "", 0);
	ASSERT_ERR(open_tar("zero.ova", &idx), -EINVAL, "zero.ova: not a tar archive");
	sh("gzip -c full.tar > gz.ova");
	ASSERT_ERR(open_tar("gz.ova", &idx), -EINVAL,
		   "gz.ova: not a tar archive (an OVA is an "
		   "uncompressed tar; this one is gzip-compressed)");
}

/* ---- gzip ---- */

static unsigned char *gz_data;
static size_t gz_len;

/* ~5 MiB of mixed data in g.bin and g.bin.gz, made once. */
static void make_gz(void)
{
	if (gz_data)
		return;
	gz_len = 5 * 1024 * 1024 + 12345;
	gz_data = mixed_data(gz_len);
	write_file(P("g.bin"), gz_data, gz_len);
	sh("gzip -k -f g.bin");
}

__attribute__((destructor)) static void gz_data_free(void)
{
	free(gz_data);
}

static int open_gz(const char *file, struct source **ret)
{
	struct source *z;
	char name[128];
	int r;

	ASSERT_OK(source_file_open(P(file), file, &z, E));
	snprintf(name, sizeof(name), "%s(inflated)", file);
	r = source_gzip_new(z, name, ret, E);
	source_unref(z);
	return r;
}

/* n random reads (some across 1 MiB marks, where checkpoints sit) equal data. */
static void random_reads(struct source *s, const unsigned char *data, size_t len, unsigned n)
{
	unsigned char *buf = malloc(256 * 1024);
	unsigned i;

	ASSERT(buf);
	for (i = 0; i < n; i++) {
		uint64_t off, l;

		if (i % 4 == 0) {
			uint64_t mark = (rnd() % (len / (1 << 20) + 1)) << 20;

			off = mark > 5000 ? mark - rnd() % 5000 : 0;
		} else {
			off = rnd() % len;
		}
		l = rnd() % (i % 8 == 0 ? 256 * 1024 : 70000);
		if (off > len)
			off = len;
		if (l > len - off)
			l = len - off;
		ASSERT_OK(source_pread(s, buf, (size_t)l, off));
		if (memcmp(buf, data + off, (size_t)l) != 0) {
			free(buf);
			HARNESS_FAIL("read %u at %llu+%llu differs", i, (unsigned long long)off,
				     (unsigned long long)l);
		}
	}
	free(buf);
}

TEST(gzip_random_and_sequential_reads)
{
	struct source *s;
	unsigned char b;

	make_gz();
	ASSERT_OK(open_gz("g.bin.gz", &s));
	ASSERT_STREQ(s->name, "g.bin.gz(inflated)");
	ASSERT_U64_EQ(s->size, gz_len);
	random_reads(s, gz_data, gz_len, 2000);
	assert_source_is(s, gz_data, gz_len);
	/* backwards, one byte at a time across the first checkpoint */
	for (uint64_t off = (1 << 20) + 64; off > (1 << 20) - 64; off--) {
		ASSERT_OK(source_pread(s, &b, 1, off));
		ASSERT_EQ(b, gz_data[off]);
	}
	ASSERT_EQ(source_pread(s, &b, 1, gz_len), -EIO);
	ASSERT_EQ(source_locate(s, 0, 1, &(int){ 0 }, &(uint64_t){ 0 }), -ENOTSUP);
	source_unref(s);
}

TEST(gzip_multi_member)
{
	struct source *s;
	unsigned char *all;
	size_t len;

	make_gz();
	/* three members, one of them empty, with the big one in the middle */
	sh("printf 'first member\\n' | gzip -c > m.gz && printf '' | gzip -c >> m.gz && "
	   "cat g.bin.gz >> m.gz && printf 'last\\n' | gzip -9 -c >> m.gz");
	len = 13 + gz_len + 5;
	all = malloc(len);
	ASSERT(all);
	memcpy(all, "first member\n", 13);
	memcpy(all + 13, gz_data, gz_len);
	memcpy(all + 13 + gz_len, "last\n", 5);
	ASSERT_OK(open_gz("m.gz", &s));
	/* first read: from a mid-member block checkpoint through a member's end, whose
	 * trailer the raw inflate must step over */
	{
		unsigned char b[105];

		ASSERT_OK(source_pread(s, b, sizeof(b), len - 105));
		ASSERT(memcmp(b, all + len - 105, sizeof(b)) == 0);
	}
	random_reads(s, all, len, 1000);
	assert_source_is(s, all, len);
	source_unref(s);

	/* a member split every 1.5 MiB: checkpoints at member starts */
	sh("split -b 1572864 g.bin gpart. && rm -f ms.gz && for f in gpart.*; do gzip -c $f >> "
	   "ms.gz; done && rm -f gpart.*");
	ASSERT_OK(open_gz("ms.gz", &s));
	random_reads(s, gz_data, gz_len, 500);
	assert_source_is(s, gz_data, gz_len);
	source_unref(s);
	free(all);
}

TEST(gzip_empty_and_bad)
{
	struct source *s;
	unsigned char *z;
	size_t zlen;

	sh("printf '' | gzip -c > empty.gz");
	ASSERT_OK(open_gz("empty.gz", &s));
	ASSERT_U64_EQ(s->size, 0);
	source_unref(s);

	make_gz();
	z = slurp(P("g.bin.gz"), &zlen);
	z[zlen / 2] ^= 0x55;
	write_file(P("corrupt.gz"), z, zlen);
	ASSERT_ERR(open_gz("corrupt.gz", &s), -EINVAL, "corrupt.gz: ");
	ASSERT(strstr(harness_err.msg, "offset"));
	z[zlen / 2] ^= 0x55;
	/* the CRC-32 in the trailer */
	z[zlen - 6] ^= 1;
	write_file(P("crc.gz"), z, zlen);
	ASSERT_ERR(open_gz("crc.gz", &s), -EINVAL, "crc.gz: corrupt gzip data, found at offset");
	z[zlen - 6] ^= 1;
	write_file(P("trunc.gz"), z, zlen - 100);
	ASSERT_ERR(open_gz("trunc.gz", &s), -EINVAL, "trunc.gz: gzip data truncated");
	write_file(P("trunc2.gz"), z, 5);
	ASSERT_ERR(open_gz("trunc2.gz", &s), -EINVAL, "trunc2.gz: gzip data truncated");
	memcpy(z + zlen - 8, "junk", 4);
	write_file(P("junk.gz"), z, zlen);
	ASSERT_ERR(open_gz("junk.gz", &s), -EINVAL, "junk.gz: ");
	free(z);
	sh("cp g.bin.gz trailing.gz && printf 'garbage' >> trailing.gz");
	ASSERT_ERR(open_gz("trailing.gz", &s), -EINVAL, "trailing.gz: data after gzip member 1");
	write_file(P("plain.gz"), "hello", 5);
	ASSERT_ERR(open_gz("plain.gz", &s), -EINVAL, "plain.gz: not gzip data");
	write_file(P("nothing.gz"), "", 0);
	ASSERT_ERR(open_gz("nothing.gz", &s), -EINVAL, "nothing.gz: not gzip data");
}

/* Runs of zeros make deflate blocks of megabytes: checkpoints fall mid-block. */
TEST(gzip_long_blocks)
{
	size_t len = 12 * 1024 * 1024 + 3, i;
	unsigned char *d = calloc(1, len);
	struct source *s;

	ASSERT(d);
	for (i = 0; i < len; i += 1300 * 1000)
		memcpy(d + i, "marker", MIN((size_t)6, len - i));
	write_file(P("zeros.bin"), d, len);
	sh("gzip -f -k zeros.bin");
	ASSERT_OK(open_gz("zeros.bin.gz", &s));
	random_reads(s, d, len, 500);
	assert_source_is(s, d, len);
	source_unref(s);
	free(d);
}

struct reader_arg {
	struct source *s;
	uint64_t seed;
	int fails;
};

static void *reader(void *p)
{
	struct reader_arg *a = p;
	unsigned char *buf = malloc(65536);
	uint64_t x = a->seed;
	int i;

	for (i = 0; buf && i < 300; i++) {
		uint64_t off, len;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		off = x % gz_len;
		len = MIN(65536, gz_len - off);
		/* half the threads read sequentially */
		if (a->seed & 1)
			off = ((uint64_t)i * 65536) % gz_len, len = MIN(65536, gz_len - off);
		if (source_pread(a->s, buf, (size_t)len, off) < 0 ||
		    memcmp(buf, gz_data + off, (size_t)len) != 0)
			a->fails++;
	}
	free(buf);
	return NULL;
}

TEST(gzip_concurrent_readers)
{
	struct reader_arg args[6];
	pthread_t th[6];
	struct source *s;
	int i;

	make_gz();
	ASSERT_OK(open_gz("g.bin.gz", &s));
	for (i = 0; i < 6; i++) {
		args[i] =
			(struct reader_arg){ s, 0x1234567ULL * (uint64_t)(i + 1) + (uint64_t)i, 0 };
		ASSERT(pthread_create(&th[i], NULL, reader, &args[i]) == 0);
	}
	for (i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		ASSERT_EQ(args[i].fails, 0);
	}
	source_unref(s);
}

/* ---- chunks ---- */

TEST(concat_reads_across_parts)
{
	static const size_t sizes[] = { 1000, 0, 4097, 1, 333 };
	unsigned char all[1000 + 4097 + 1 + 333], buf[sizeof(all)];
	struct source *parts[5], *s;
	size_t i, off, len, at = 0;

	for (i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)rnd();
	for (i = 0; i < 5; i++) {
		ASSERT_OK(source_mem_new(all + at, sizes[i], "part", &parts[i], E));
		at += sizes[i];
	}
	ASSERT_OK(source_concat_new(parts, 5, "whole", &s, E));
	for (i = 0; i < 5; i++)
		source_unref(parts[i]); /* the concatenation holds its own */
	ASSERT_U64_EQ(s->size, sizeof(all));
	ASSERT_STREQ(s->name, "whole");
	for (off = 0; off <= sizeof(all); off += 7) {
		for (len = 0; off + len <= sizeof(all); len = len * 2 + 1) {
			ASSERT_OK(source_pread(s, buf, len, off));
			ASSERT(memcmp(buf, all + off, len) == 0);
		}
	}
	ASSERT_OK(source_pread(s, buf, sizeof(all), 0));
	ASSERT(memcmp(buf, all, sizeof(all)) == 0);
	ASSERT_EQ(source_pread(s, buf, 2, sizeof(all) - 1), -EIO);
	source_unref(s);

	ASSERT_ERR(source_concat_new(parts, 0, "none", &s, E), -EINVAL, "none: no parts");
}

TEST(concat_size_overflow)
{
	struct source *parts[2], *s;
	uint64_t real;

	ASSERT_OK(source_mem_new("ab", 2, "p0", &parts[0], E));
	ASSERT_OK(source_mem_new("cd", 2, "p1", &parts[1], E));
	real = parts[0]->size;
	/* the sizes are never read through: only their sum matters here */
	parts[0]->size = UINT64_MAX - 1;
	ASSERT_ERR(source_concat_new(parts, 2, "huge", &s, E), -EFBIG, "huge: the parts' total");
	parts[0]->size = real;
	source_unref(parts[0]);
	source_unref(parts[1]);
}

TEST(concat_locate_and_seek_over_files)
{
	struct source *parts[3], *s;
	uint64_t fdoff, pos;
	char chunk[4096];
	int fd, i;

	/* chunk 0: data; chunk 1: a 1 MiB hole then data; chunk 2: data */
	memset(chunk, 0xab, sizeof(chunk));
	write_file(P("c.000000000"), chunk, sizeof(chunk));
	sh("rm -f c.000000001 && truncate -s 1M c.000000001 && head -c 4096 /dev/urandom >> "
	   "c.000000001");
	write_file(P("c.000000002"), chunk, 100);
	for (i = 0; i < 3; i++) {
		char name[32];

		snprintf(name, sizeof(name), "c.%09d", i);
		ASSERT_OK(source_file_open(P(name), name, &parts[i], E));
	}
	ASSERT_OK(source_concat_new(parts, 3, "c", &s, E));
	ASSERT_U64_EQ(s->size, 4096 + (1 << 20) + 4096 + 100);

	ASSERT_OK(source_locate(s, 10, 100, &fd, &fdoff));
	ASSERT_U64_EQ(fdoff, 10);
	ASSERT_OK(source_locate(s, 4096 + 5, 100, &fd, &fdoff));
	ASSERT_U64_EQ(fdoff, 5);
	ASSERT_OK(source_locate(s, 4096 + (1 << 20) + 4096 + 10, 90, &fd, &fdoff));
	ASSERT_U64_EQ(fdoff, 10);
	ASSERT_EQ(source_locate(s, 4000, 200, &fd, &fdoff), -ENOTSUP);

	ASSERT_OK(source_seek(s, 0, SEEK_DATA, &pos));
	ASSERT_U64_EQ(pos, 0);
	ASSERT_OK(source_seek(s, 0, SEEK_HOLE, &pos));
	ASSERT_U64_EQ(pos, 4096); /* the hole at the start of chunk 1 */
	ASSERT_OK(source_seek(s, 5000, SEEK_DATA, &pos));
	ASSERT_U64_EQ(pos, 4096 + (1 << 20));
	ASSERT_OK(source_seek(s, 4096 + (1 << 20), SEEK_HOLE, &pos));
	ASSERT_U64_EQ(pos, s->size); /* a part's end is no hole */
	ASSERT_EQ(source_seek(s, s->size, SEEK_DATA, &pos), -ENXIO);
	source_unref(s);
	for (i = 0; i < 3; i++)
		source_unref(parts[i]);
}

/* ---- together: an OVA holding a gzip'd disk and a chunked one ---- */

TEST(ova_with_gzip_and_chunked_members)
{
	struct source *parts[3], *whole, *m, *g;
	struct tar_index *idx;
	int i;

	make_gz();
	sh("rm -rf pk && mkdir pk && cp g.bin.gz pk/disk1.vmdk.gz && "
	   "split -d -a 9 -b 2000000 g.bin pk/disk2.vmdk. && ls pk/disk2.vmdk.* | wc -l | "
	   "grep -qx 3 && echo '<Envelope/>' > pk/vm.ovf && "
	   "tar --format=pax -cf pk.ova -C pk vm.ovf disk1.vmdk.gz disk2.vmdk.000000000 "
	   "disk2.vmdk.000000001 disk2.vmdk.000000002");
	ASSERT_OK(open_tar("pk.ova", &idx));
	ASSERT_EQ(tar_count(idx), 5);
	ASSERT_OK(tar_member_source(idx, (size_t)tar_find(idx, "disk1.vmdk.gz"), &m, E));
	ASSERT_STREQ(m->name, "pk.ova:disk1.vmdk.gz");
	ASSERT_OK(source_gzip_new(m, "pk.ova:disk1.vmdk", &g, E));
	source_unref(m);
	random_reads(g, gz_data, gz_len, 300);
	source_unref(g);
	for (i = 0; i < 3; i++) {
		char name[64];

		snprintf(name, sizeof(name), "disk2.vmdk.%09d", i);
		ASSERT_OK(tar_member_source(idx, (size_t)tar_find(idx, name), &parts[i], E));
	}
	ASSERT_OK(source_concat_new(parts, 3, "pk.ova:disk2.vmdk", &whole, E));
	for (i = 0; i < 3; i++)
		source_unref(parts[i]);
	tar_index_free(idx); /* the sources keep the archive open */
	random_reads(whole, gz_data, gz_len, 300);
	assert_source_is(whole, gz_data, gz_len);
	source_unref(whole);
}

HARNESS_MAIN
