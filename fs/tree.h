/* SPDX-License-Identifier: MIT */
/*
 * The mount's static tree: directories and files, built once from the export's file
 * list before the FUSE loop starts and never changed after, so lookups need no lock.
 * An inode number is the node's index + 1 (FUSE_ROOT_ID, 1, is the root).
 */
#ifndef VMFS_TREE_H
#define VMFS_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../formats/view/view.h"

struct tree_node {
	char *name;	    /* "" for the root */
	uint64_t parent;    /* inode of the parent directory */
	bool is_dir;
	struct view *view;  /* files only; owned reference */
	uint64_t first_child, next_sibling; /* inodes, 0 = none; children in insertion order */
	uint64_t last_child;
	uint32_t n_children;
};

struct tree {
	struct tree_node *nodes;
	size_t n_nodes;
};

/* An empty tree holding only the root directory. 0 or -ENOMEM. */
int tree_init(struct tree *t);

/* Add a file at a relative '/'-separated path, creating directories on the way; takes its
 * own reference on view. -EEXIST for a duplicate path, -EINVAL for a bad component.
 * 0 or -errno. */
int tree_add_file(struct tree *t, const char *path, struct view *view);

/* The node of inode ino, or NULL. Borrowed. */
struct tree_node *tree_get(const struct tree *t, uint64_t ino);

/* The inode of the child of directory dir named name, or 0. */
uint64_t tree_lookup(const struct tree *t, uint64_t dir, const char *name);

/* Release all nodes and their views. */
void tree_free(struct tree *t);

#endif
