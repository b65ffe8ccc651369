/* SPDX-License-Identifier: MIT */
/* The mount's static tree: see tree.h. */
#include "tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int tree_init(struct tree *t)
{
	t->nodes = calloc(1, sizeof(*t->nodes));
	if (!t->nodes)
		return -ENOMEM;
	t->nodes[0].name = strdup("");
	t->nodes[0].is_dir = true;
	t->nodes[0].parent = 1;
	t->n_nodes = 1;
	return t->nodes[0].name ? 0 : -ENOMEM;
}

struct tree_node *tree_get(const struct tree *t, uint64_t ino)
{
	if (ino == 0 || ino > t->n_nodes)
		return NULL;
	return &t->nodes[ino - 1];
}

uint64_t tree_lookup(const struct tree *t, uint64_t dir, const char *name)
{
	const struct tree_node *d = tree_get(t, dir);

	if (!d || !d->is_dir)
		return 0;
	for (uint64_t c = d->first_child; c; c = t->nodes[c - 1].next_sibling)
		if (strcmp(t->nodes[c - 1].name, name) == 0)
			return c;
	return 0;
}

static int tree_add_node(struct tree *t, uint64_t dir, const char *name, size_t len,
			 bool is_dir, struct view *view, uint64_t *ret)
{
	struct tree_node *nodes, *n, *d;
	uint64_t ino;

	nodes = realloc(t->nodes, (t->n_nodes + 1) * sizeof(*nodes));
	if (!nodes)
		return -ENOMEM;
	t->nodes = nodes;
	n = &nodes[t->n_nodes];
	memset(n, 0, sizeof(*n));
	n->name = strndup(name, len);
	if (!n->name)
		return -ENOMEM;
	n->parent = dir;
	n->is_dir = is_dir;
	n->view = view ? view_ref(view) : NULL;
	ino = ++t->n_nodes;
	d = &t->nodes[dir - 1];
	if (d->last_child)
		t->nodes[d->last_child - 1].next_sibling = ino;
	else
		d->first_child = ino;
	d->last_child = ino;
	d->n_children++;
	*ret = ino;
	return 0;
}

int tree_add_file(struct tree *t, const char *path, struct view *view)
{
	uint64_t dir = 1;
	const char *p = path;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		char name[256];
		uint64_t child;
		int r;

		if (len == 0 || len >= sizeof(name) || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return -EINVAL;
		memcpy(name, p, len);
		name[len] = '\0';
		child = tree_lookup(t, dir, name);
		if (!slash) {
			if (child)
				return -EEXIST;
			return tree_add_node(t, dir, name, len, false, view, &child);
		}
		if (child && !t->nodes[child - 1].is_dir)
			return -EEXIST;
		if (!child) {
			r = tree_add_node(t, dir, name, len, true, NULL, &child);
			if (r < 0)
				return r;
		}
		dir = child;
		p = slash + 1;
	}
}

void tree_free(struct tree *t)
{
	for (size_t i = 0; i < t->n_nodes; i++) {
		free(t->nodes[i].name);
		view_unref(t->nodes[i].view);
	}
	free(t->nodes);
	t->nodes = NULL;
	t->n_nodes = 0;
}
