/*
 * loginmap - SMTP AUTH login to envelope sender map; see loginmap.h.
 *
 * Entries are kept sorted by key for bsearch: the milter asks once per
 * authenticated message, and a site's map may list every user.
 */
#include "loginmap.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "xmem.h"

#define LOGINMAP_LINE_MAX 8192

struct loginmap_ent {
    char  *key;           /* address normal form, or "@domain" (A-label) */
    char **logins;
    size_t n_logins;
};

struct loginmap {
    struct loginmap_ent *ents;
    size_t               n;
};

size_t loginmap_count(const loginmap_t *map)
{
    return map ? map->n : 0;
}

loginmap_t *loginmap_free(loginmap_t *map)
{
    if (map == NULL)
        return NULL;
    for (size_t i = 0; i < map->n; i++) {
        for (size_t j = 0; j < map->ents[i].n_logins; j++)
            free(map->ents[i].logins[j]);
        free(map->ents[i].logins);
        free(map->ents[i].key);
    }
    free(map->ents);
    free(map);
    return NULL;
}

static int ent_cmp(const void *a, const void *b)
{
    return strcmp(((const struct loginmap_ent *)a)->key,
                  ((const struct loginmap_ent *)b)->key);
}

/* KEY in normal form into out; 0, or -1 with a reason. */
static int key_norm(const char *raw, char out[ADDR_KEY_MAX + 2], const char **why)
{
    if (raw[0] == '@') {
        char dom[ADDR_DOMAIN_MAX + 2];
        if (raw[1] == '\0' || raw[1] == '.' || addr_domain_norm(raw + 1, dom) != ADDR_OK) {
            *why = "not a domain";
            return -1;
        }
        snprintf(out, ADDR_KEY_MAX + 2, "@%s", dom);
        return 0;
    }
    struct addr a;
    int rc = addr_parse_str(raw, &a);
    if (rc != ADDR_OK || a.is_null) {
        *why = rc != ADDR_OK ? addr_strerror(rc) : "the null address";
        return -1;
    }
    snprintf(out, ADDR_KEY_MAX + 2, "%s", a.key);
    return 0;
}

/* One logical line (continuations joined) into map; 0 or -1 (err set). */
static int add_line(loginmap_t *map, char *line, const char *name, int lineno,
                    char *err, size_t errlen)
{
    char *p = line, *key, norm[ADDR_KEY_MAX + 2];
    const char *why = NULL;
    struct loginmap_ent e = { 0 };

    key = p;
    while (*p && !isspace((unsigned char)*p))
        p++;
    if (*p)
        *p++ = '\0';
    if (key_norm(key, norm, &why) < 0) {
        snprintf(err, errlen, "%s:%d: key '%.64s': %s", name, lineno, key, why);
        return -1;
    }
    for (;;) {
        size_t n;
        p += strspn(p, ", \t");
        n = strcspn(p, ", \t");
        if (n == 0)
            break;
        e.logins = xrealloc(e.logins, (e.n_logins + 1) * sizeof(*e.logins));
        e.logins[e.n_logins++] = xstrndup(p, n);
        p += n;
    }
    if (e.n_logins == 0) {
        snprintf(err, errlen, "%s:%d: key '%.64s' has no login", name, lineno, key);
        return -1;
    }
    e.key = xstrdup(norm);
    map->ents = xrealloc(map->ents, (map->n + 1) * sizeof(*map->ents));
    map->ents[map->n++] = e;
    return 0;
}

/* Reads logical lines from fp or text. */
struct lm_src {
    FILE       *fp;
    const char *text;
    size_t      pos;
};

static int src_line(struct lm_src *s, char *buf, size_t len, int *too_long)
{
    *too_long = 0;
    if (s->fp) {
        if (fgets(buf, (int)len, s->fp) == NULL)
            return 0;
    } else {
        size_t n;
        if (s->text[s->pos] == '\0')
            return 0;
        n = strcspn(s->text + s->pos, "\n");
        if (n >= len) {
            *too_long = 1;
            n = len - 1;
        }
        memcpy(buf, s->text + s->pos, n);
        buf[n] = '\0';
        s->pos += strcspn(s->text + s->pos, "\n");
        if (s->text[s->pos] == '\n')
            s->pos++;
        return 1;
    }
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    else if (!feof(s->fp))
        *too_long = 1;
    return 1;
}

static int load(struct lm_src *src, const char *name, loginmap_t **out,
                char *err, size_t errlen)
{
    loginmap_t *map = xcalloc(1, sizeof(*map));
    char *buf = xmalloc(LOGINMAP_LINE_MAX), *logical = NULL;
    size_t llen = 0;
    int lineno = 0, start = 0, rc = 0, too_long;

    *out = NULL;
    while (rc == 0 && src_line(src, buf, LOGINMAP_LINE_MAX, &too_long)) {
        lineno++;
        if (too_long) {
            snprintf(err, errlen, "%s:%d: line too long", name, lineno);
            rc = -1;
            break;
        }
        if (buf[0] == '#')
            continue;
        if (buf[0] == ' ' || buf[0] == '\t') {
            if (buf[strspn(buf, " \t\r")] == '\0')
                continue;
            if (logical == NULL) {
                snprintf(err, errlen, "%s:%d: continuation line without a key", name,
                         lineno);
                rc = -1;
                break;
            }
            size_t n = strlen(buf);
            logical = xrealloc(logical, llen + n + 2);
            logical[llen++] = ' ';
            memcpy(logical + llen, buf, n + 1);
            llen += n;
            continue;
        }
        if (logical != NULL)
            rc = add_line(map, logical, name, start, err, errlen);
        logical = xfree(logical);
        llen = 0;
        buf[strcspn(buf, "\r")] = '\0';
        if (buf[0] == '\0')
            continue;
        logical = xstrdup(buf);
        llen = strlen(logical);
        start = lineno;
    }
    if (rc == 0 && logical != NULL)
        rc = add_line(map, logical, name, start, err, errlen);
    free(logical);
    free(buf);
    if (rc == 0 && src->fp && ferror(src->fp)) {
        snprintf(err, errlen, "%s: read error", name);
        rc = -1;
    }
    if (rc != 0) {
        loginmap_free(map);
        return -1;
    }
    qsort(map->ents, map->n, sizeof(*map->ents), ent_cmp);
    /* A key listed twice would make the answer depend on the sort: refuse. */
    for (size_t i = 1; i < map->n; i++)
        if (strcmp(map->ents[i - 1].key, map->ents[i].key) == 0) {
            snprintf(err, errlen, "%s: key '%.64s' is listed twice", name, map->ents[i].key);
            loginmap_free(map);
            return -1;
        }
    *out = map;
    return 0;
}

int loginmap_load(const char *path, loginmap_t **out, char *err, size_t errlen)
{
    struct lm_src src = { 0 };
    int rc;

    src.fp = fopen(path, "re");
    if (src.fp == NULL) {
        snprintf(err, errlen, "%s:0: cannot open: %s", path, strerror(errno));
        *out = NULL;
        return -1;
    }
    rc = load(&src, path, out, err, errlen);
    fclose(src.fp);
    return rc;
}

int loginmap_load_string(const char *text, const char *name, loginmap_t **out,
                         char *err, size_t errlen)
{
    struct lm_src src = { 0 };

    src.text = text;
    return load(&src, name, out, err, errlen);
}

static const struct loginmap_ent *find(const loginmap_t *map, const char *key)
{
    struct loginmap_ent probe = { 0 };

    if (map == NULL || map->n == 0)
        return NULL;
    probe.key = (char *)(uintptr_t)key;
    return bsearch(&probe, map->ents, map->n, sizeof(*map->ents), ent_cmp);
}

int loginmap_allows(const loginmap_t *map, const char *sender_key, const char *login,
                    const char *delims)
{
    const struct loginmap_ent *e;
    const char *at;
    char bare[ADDR_KEY_MAX + 1], dom[ADDR_KEY_MAX + 2];
    struct addr a;

    if (login == NULL || login[0] == '\0' || sender_key == NULL || sender_key[0] == '\0')
        return 0;
    if (addr_parse_str(login, &a) == ADDR_OK && !a.is_null &&
        strcmp(a.key, sender_key) == 0)
        return 1;
    e = find(map, sender_key);
    if (e == NULL && addr_strip_ext(sender_key, delims, bare))
        e = find(map, bare);
    if (e == NULL && (at = strrchr(sender_key, '@')) != NULL) {
        snprintf(dom, sizeof(dom), "%s", at);
        e = find(map, dom);
    }
    if (e == NULL)
        return 0;
    for (size_t i = 0; i < e->n_logins; i++)
        if (strcasecmp(e->logins[i], login) == 0)
            return 1;
    return 0;
}
