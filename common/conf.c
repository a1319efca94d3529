/*
 * conf - load, validate and own a struct conf; see conf.h.
 *
 * conf_parse.c reads the INI text into a loader (values of the fixed
 * sections straight into struct conf, [server]/[token] into raw records);
 * this file then checks what needs the whole file (this_server, domains
 * across servers, tokens, the key file, cross-key bounds), builds msys and
 * the token list, and either returns the conf or frees everything and
 * returns all the messages.
 *
 * Token lookup hashes the presented secret with a per-conf random BLAKE2b
 * key and compares that with every token's hash using sodium_memcmp: the
 * comparison is over equal lengths (32 bytes) whatever was presented, and
 * the loop never stops early, so timing tells neither which token matched
 * nor how much of one did.
 */
#include "conf.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "conf_priv.h"
#include "log.h"
#include "xmem.h"

struct conf_full {
    struct conf    pub;            /* first: a struct conf * is a struct conf_full * */
    unsigned char  hkey[crypto_generichash_KEYBYTES];
    unsigned char (*tok_hash)[32];
};

/* ---- input -------------------------------------------------------------- */

int conf_src_next(struct conf_loader *ld, const char **line, size_t *len)
{
    if (ld->fp != NULL) {
        ssize_t n = getline(&ld->buf, &ld->bufcap, ld->fp);
        if (n < 0) {
            if (ferror(ld->fp))
                conf_error(ld, ld->line + 1, "read error: %s", strerror(errno));
            return -1;
        }
        if (n > 0 && ld->buf[n - 1] == '\n')
            n--;
        *line = ld->buf;
        *len = (size_t)n;
        return 0;
    }
    if (ld->text == NULL || ld->text[ld->pos] == '\0')
        return -1;
    {
        const char *s = ld->text + ld->pos;
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        *line = s;
        *len = n;
        ld->pos += n + (nl != NULL);
    }
    return 0;
}

/* ---- named sections ----------------------------------------------------- */

/* [webhook NAME]: its own list (server and token share the code below). */
static void hook_section(struct conf_loader *ld, const char *name, size_t n)
{
    for (size_t i = 0; i < ld->n_hook; i++)
        if (strlen(ld->hook[i]->name) == n && memcmp(ld->hook[i]->name, name, n) == 0) {
            conf_error(ld, ld->line, "section [webhook %s] appears twice (first on line %d)",
                       ld->hook[i]->name, ld->hook[i]->line);
            return;
        }
    struct conf_hook_raw *r = xcalloc(1, sizeof(*r));
    r->name = xstrndup(name, n);
    r->line = ld->line;
    ld->hook = xrealloc(ld->hook, (ld->n_hook + 1) * sizeof(*ld->hook));
    ld->hook[ld->n_hook++] = r;
    ld->sec_record = r;
    ld->sec_kind = CONF_SEC_NAMED;
    snprintf(ld->sec_type, sizeof(ld->sec_type), "webhook");
    snprintf(ld->sec_name, sizeof(ld->sec_name), "webhook %.*s", (int)n, name);
}

void conf_named_section(struct conf_loader *ld, const char *kind, const char *name, size_t n)
{
    if (strcmp(kind, "webhook") == 0) {
        hook_section(ld, name, n);
        return;
    }
    int is_srv = strcmp(kind, "server") == 0;
    size_t count = is_srv ? ld->n_srv : ld->n_tok;

    for (size_t i = 0; i < count; i++) {
        const char *other = is_srv ? ld->srv[i]->name : ld->tok[i]->name;
        int line = is_srv ? ld->srv[i]->line : ld->tok[i]->line;
        if (strlen(other) == n && memcmp(other, name, n) == 0) {
            conf_error(ld, ld->line, "section [%s %s] appears twice (first on line %d)",
                       kind, other, line);
            return;
        }
    }
    if (is_srv) {
        struct conf_srv_raw *r = xcalloc(1, sizeof(*r));
        r->name = xstrndup(name, n);
        r->line = ld->line;
        ld->srv = xrealloc(ld->srv, (ld->n_srv + 1) * sizeof(*ld->srv));
        ld->srv[ld->n_srv++] = r;
        ld->sec_record = r;
    } else {
        struct conf_tok_raw *r = xcalloc(1, sizeof(*r));
        r->name = xstrndup(name, n);
        r->line = ld->line;
        ld->tok = xrealloc(ld->tok, (ld->n_tok + 1) * sizeof(*ld->tok));
        ld->tok[ld->n_tok++] = r;
        ld->sec_record = r;
    }
    ld->sec_kind = CONF_SEC_NAMED;
    snprintf(ld->sec_type, sizeof(ld->sec_type), "%s", kind);
    snprintf(ld->sec_name, sizeof(ld->sec_name), "%s %.*s", kind, (int)n, name);
}

int *conf_record_seen(struct conf_loader *ld, const struct conf_key *k)
{
    if (strcmp(ld->sec_type, "server") == 0)
        return &((struct conf_srv_raw *)ld->sec_record)->seen[k - conf_keys];
    if (strcmp(ld->sec_type, "webhook") == 0)
        return &((struct conf_hook_raw *)ld->sec_record)->seen[k - conf_keys];
    return &((struct conf_tok_raw *)ld->sec_record)->seen[k - conf_keys];
}

static void loader_free(struct conf_loader *ld)
{
    for (size_t i = 0; i < ld->n_srv; i++) {
        struct conf_srv_raw *r = ld->srv[i];
        for (size_t j = 0; j < r->n_doms; j++)
            free(r->doms[j].text);
        free(r->doms);
        free(r->name);
        free(r->tracker);
        free(r);
    }
    for (size_t i = 0; i < ld->n_tok; i++) {
        struct conf_tok_raw *r = ld->tok[i];
        if (r->secret)
            sodium_memzero(r->secret, strlen(r->secret));
        free(r->secret);
        free(r->secret_file);
        free(r->name);
        free(r);
    }
    for (size_t i = 0; i < ld->n_hook; i++) {
        free(ld->hook[i]->name);
        free(ld->hook[i]->url);
        free(ld->hook[i]->secret_file);
        free(ld->hook[i]);
    }
    free(ld->hook);
    free(ld->srv);
    free(ld->tok);
    free(ld->buf);
}

/* Line where a fixed-section key was set, 0 if it kept its default. */
static int key_line(const struct conf_loader *ld, const char *section, const char *name)
{
    const struct conf_key *k = conf_key_find(section, name);
    return k ? ld->seen[k - conf_keys] : 0;
}

/* ---- secrets on disk ---------------------------------------------------- */

/*
 * Read a secret file: a regular file, no group/other permission bits, min..max
 * bytes (after dropping one trailing newline when strip).  The buffer comes
 * from sodium_malloc-free plain malloc but is wiped before it is freed.
 */
static unsigned char *read_secret(struct conf_loader *ld, const char *what, const char *path,
                                  size_t min, size_t max, int strip, size_t *outlen)
{
    struct stat st;
    unsigned char *buf;
    size_t n = 0;
    int fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);

    if (fd < 0) {
        conf_error(ld, 0, "cannot read %s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        conf_error(ld, 0, "%s %s is not a regular file", what, path);
        close(fd);
        return NULL;
    }
    if (st.st_mode & 077) {
        conf_error(ld, 0, "%s %s is open to group or others (mode %04o); run: chmod 600 %s",
                   what, path, (unsigned)(st.st_mode & 07777), path);
        close(fd);
        return NULL;
    }
    if ((size_t)st.st_size > max + 2) {
        conf_error(ld, 0, "%s %s is too long (%lld bytes, at most %zu)", what, path,
                   (long long)st.st_size, max);
        close(fd);
        return NULL;
    }
    buf = xmalloc(max + 3);
    for (;;) {
        ssize_t r = read(fd, buf + n, max + 3 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            conf_error(ld, 0, "cannot read %s %s: %s", what, path, strerror(errno));
            close(fd);
            sodium_memzero(buf, max + 3);
            free(buf);
            return NULL;
        }
        if (r == 0 || (n += (size_t)r) == max + 3)
            break;
    }
    close(fd);
    if (strip && n > 0 && buf[n - 1] == '\n')
        n--;
    if (strip && n > 0 && buf[n - 1] == '\r')
        n--;
    if (n < min || n > max) {
        conf_error(ld, 0, "%s %s is too %s (%zu bytes, need %zu..%zu)", what, path,
                   n < min ? "short" : "long", n, min, max);
        sodium_memzero(buf, max + 3);
        free(buf);
        return NULL;
    }
    *outlen = n;
    return buf;
}

/* ---- whole-file checks and building ------------------------------------- */

static void short_hostname(char *out, size_t len)
{
    char host[256];
    char *dot;

    if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    if ((dot = strchr(host, '.')) != NULL && dot != host)
        *dot = '\0';
    snprintf(out, len, "%s", host);
}

static void build_system(struct conf_loader *ld)
{
    struct conf *c = ld->c;
    char err[512];

    if (c->this_server[0] == '\0') {
        char host[256];
        short_hostname(host, sizeof(host));
        free(c->this_server);
        c->this_server = xstrdup(host);
    }
    if (ld->n_srv == 0) {
        /* One-server default: this host, hosting "localhost". */
        if (msys_add_server(c->msys, c->this_server, NULL, err, sizeof(err)) < 0 ||
            msys_add_domain(c->msys, c->this_server, "localhost", err, sizeof(err)) < 0)
            conf_error(ld, key_line(ld, "system", "this_server"), "this_server: %s", err);
    }
    for (size_t i = 0; i < ld->n_srv; i++)
        if (msys_add_server(c->msys, ld->srv[i]->name, ld->srv[i]->tracker, err, sizeof(err)) < 0)
            conf_error(ld, ld->srv[i]->line, "%s", err);
    for (size_t i = 0; i < ld->n_srv; i++)
        for (size_t j = 0; j < ld->srv[i]->n_doms; j++)
            if (msys_add_domain(c->msys, ld->srv[i]->name, ld->srv[i]->doms[j].text,
                                err, sizeof(err)) < 0)
                conf_error(ld, ld->srv[i]->doms[j].line, "[server %s] domains: %s",
                           ld->srv[i]->name, err);
    if (msys_set_this_server(c->msys, c->this_server, err, sizeof(err)) < 0)
        conf_error(ld, key_line(ld, "system", "this_server"),
                   "this_server '%s' names no [server %s] section", c->this_server,
                   c->this_server);
    msys_derive_peers(c->msys);
}

static void build_tokens(struct conf_loader *ld, struct conf_full *cf)
{
    struct conf *c = ld->c;
    const struct conf_key *ksf = conf_key_find("token", "secret_file");
    const struct conf_key *ksc = conf_key_find("token", "scopes");
    const struct conf_key *kse = conf_key_find("token", "secret");

    c->tokens = xcalloc(ld->n_tok ? ld->n_tok : 1, sizeof(*c->tokens));
    cf->tok_hash = xcalloc(ld->n_tok ? ld->n_tok : 1, sizeof(*cf->tok_hash));
    randombytes_buf(cf->hkey, sizeof(cf->hkey));
    for (size_t i = 0; i < ld->n_tok; i++) {
        struct conf_tok_raw *r = ld->tok[i];
        struct conf_token *t = &c->tokens[c->n_tokens++];

        t->name = xstrdup(r->name);
        t->scopes = r->scopes;
        if (!r->seen[ksc - conf_keys] || r->scopes == 0)
            conf_error(ld, r->line, "[token %s] needs scopes (notify, query, admin, events)", r->name);
        if (r->secret && r->secret_file) {
            conf_error(ld, r->seen[ksf - conf_keys],
                       "[token %s] has both secret and secret_file; keep one", r->name);
        } else if (r->secret == NULL && r->secret_file == NULL) {
            conf_error(ld, r->line, "[token %s] needs secret or secret_file", r->name);
        } else if (r->secret) {
            size_t n = strlen(r->secret);
            /* An inline secret is as exposed as its file: same rule as secret_file. */
            if (ld->file_mode & 077)
                conf_error(ld, r->seen[kse - conf_keys],
                           "[token %s] secret is inline in %s, which is open to group or "
                           "others (mode %04o); run: chmod 600 %s, or use secret_file",
                           r->name, ld->name, (unsigned)ld->file_mode, ld->name);
            if (n < CONF_SECRET_MIN || n > CONF_KEY_MAX)
                conf_error(ld, r->seen[kse - conf_keys],
                           "[token %s] secret: %zu bytes, need %d..%d", r->name, n,
                           CONF_SECRET_MIN, CONF_KEY_MAX);
            t->secret = (unsigned char *)xstrdup(r->secret);
            t->secret_len = n;
        } else if (!(ld->flags & CONF_NO_KEY)) {
            char what[64];
            snprintf(what, sizeof(what), "[token %s] secret_file", r->name);
            t->secret = read_secret(ld, what, r->secret_file, CONF_SECRET_MIN, CONF_KEY_MAX, 1,
                                    &t->secret_len);
            if (t->secret && !conf_secret_chars((const char *)t->secret, t->secret_len))
                conf_error(ld, 0, "%s %s: only visible ASCII characters, no spaces", what,
                           r->secret_file);
        }
        if (t->secret)
            crypto_generichash(cf->tok_hash[i], 32, t->secret, t->secret_len, cf->hkey,
                               sizeof(cf->hkey));
        else
            randombytes_buf(cf->tok_hash[i], 32);   /* matches nothing */
        for (size_t j = 0; j < i && t->secret; j++)
            if (c->tokens[j].secret && c->tokens[j].secret_len == t->secret_len &&
                memcmp(c->tokens[j].secret, t->secret, t->secret_len) == 0)
                conf_error(ld, r->line, "[token %s] has the same secret as [token %s]",
                           r->name, c->tokens[j].name);
    }
}

/* [webhook NAME]: url and secret_file required; events default to all. */
static void build_webhooks(struct conf_loader *ld)
{
    struct conf *c = ld->c;
    const struct conf_key *kev = conf_key_find("webhook", "events");

    c->webhooks = xcalloc(ld->n_hook ? ld->n_hook : 1, sizeof(*c->webhooks));
    for (size_t i = 0; i < ld->n_hook; i++) {
        struct conf_hook_raw *r = ld->hook[i];
        struct conf_webhook *w = &c->webhooks[c->n_webhooks++];

        w->name = xstrdup(r->name);
        w->url = r->url ? xstrdup(r->url) : NULL;
        w->events = r->seen[kev - conf_keys] ? r->events
                                             : CONF_EV_READ | CONF_EV_RECEIVED |
                                               CONF_EV_DELETED_UNREAD;
        if (r->url == NULL)
            conf_error(ld, r->line, "[webhook %s] needs url", r->name);
        if (r->seen[kev - conf_keys] && r->events == 0)
            conf_error(ld, r->seen[kev - conf_keys], "[webhook %s] events: name at least one",
                       r->name);
        if (r->secret_file == NULL) {
            conf_error(ld, r->line, "[webhook %s] needs secret_file (the signing secret)",
                       r->name);
        } else if (!(ld->flags & CONF_NO_KEY)) {
            char what[64];
            snprintf(what, sizeof(what), "[webhook %s] secret_file", r->name);
            w->secret = read_secret(ld, what, r->secret_file, CONF_SECRET_MIN, CONF_KEY_MAX, 1,
                                    &w->secret_len);
        }
    }
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void finish(struct conf_loader *ld, struct conf_full *cf)
{
    struct conf *c = ld->c;
    size_t w = 0;

    build_system(ld);
    build_tokens(ld, cf);
    build_webhooks(ld);
    if (c->events_keep > c->retention)
        c->events_keep = c->retention;      /* the feed never outlives the log */
    if (c->n_opt_out) {
        qsort(c->opt_out, c->n_opt_out, sizeof(char *), str_cmp);
        for (size_t i = 0; i < c->n_opt_out; i++) {
            if (w > 0 && strcmp(c->opt_out[w - 1], c->opt_out[i]) == 0)
                free(c->opt_out[i]);
            else
                c->opt_out[w++] = c->opt_out[i];
        }
        c->n_opt_out = w;
    }
    if (c->store_map_size > c->store_map_size_max)
        conf_error(ld, key_line(ld, "store", "map_size"),
                   "map_size (%zu) is larger than map_size_max (%zu)", c->store_map_size,
                   c->store_map_size_max);
    for (const char *d = c->recipient_delimiter; *d; d++)
        if (*d <= ' ' || *d >= 0x7f || *d == '@' || *d == '"') {
            conf_error(ld, key_line(ld, "system", "recipient_delimiter"),
                       "recipient_delimiter: only visible ASCII characters other than @ and \"");
            break;
        }
    if (strcasecmp(c->header_mail_id, c->header_sender) == 0)
        conf_error(ld, key_line(ld, "system", "header_sender"),
                   "header_mail_id and header_sender are the same header");
    if (!(ld->flags & CONF_NO_KEY)) {
        c->key = read_secret(ld, "key file", c->key_file, CONF_KEY_MIN, CONF_KEY_MAX, 0,
                             &c->key_len);
        if (c->key != NULL) {
            /* One key per purpose (keys.h): a tag is never a signature. */
            keys_derive(c->key, c->key_len, KEYS_PURPOSE_MAILID, c->key_mailid);
            keys_derive(c->key, c->key_len, KEYS_PURPOSE_SYNC, c->key_sync);
            mailid_key_init(&c->mac_key, c->key_mailid, sizeof(c->key_mailid));
        }
    }
    if (c->milter_sender_login_maps[0] != '\0') {
        char err[512];
        if (loginmap_load(c->milter_sender_login_maps, &c->sender_login_map, err,
                          sizeof(err)) < 0)
            conf_error(ld, 0, "sender_login_maps: %s", err);
    }
}

/* ---- lifetime ----------------------------------------------------------- */

static void conf_free(struct conf *c)
{
    struct conf_full *cf = (struct conf_full *)c;

    for (size_t i = 0; i < conf_n_keys; i++) {
        const struct conf_key *k = &conf_keys[i];
        if (conf_is_named(k->section))
            continue;
        if (k->type == CT_STRING || k->type == CT_SOCKET || k->type == CT_LISTEN ||
            k->type == CT_HEADER || k->type == CT_URL || k->type == CT_SECRET)
            free(*(char **)((char *)c + k->off));
    }
    if (c->key) {
        sodium_memzero(c->key, c->key_len);
        free(c->key);
    }
    mailid_key_wipe(&c->mac_key);
    sodium_memzero(c->key_mailid, sizeof(c->key_mailid));
    sodium_memzero(c->key_sync, sizeof(c->key_sync));
    loginmap_free(c->sender_login_map);
    for (size_t i = 0; i < c->n_opt_out; i++)
        free(c->opt_out[i]);
    free(c->opt_out);
    for (size_t i = 0; i < c->n_tokens; i++) {
        if (c->tokens[i].secret) {
            sodium_memzero(c->tokens[i].secret, c->tokens[i].secret_len);
            free(c->tokens[i].secret);
        }
        free(c->tokens[i].name);
    }
    free(c->tokens);
    for (size_t i = 0; i < c->n_webhooks; i++) {
        if (c->webhooks[i].secret) {
            sodium_memzero(c->webhooks[i].secret, c->webhooks[i].secret_len);
            free(c->webhooks[i].secret);
        }
        free(c->webhooks[i].name);
        free(c->webhooks[i].url);
    }
    free(c->webhooks);
    free(cf->tok_hash);
    msys_free(c->msys);
    free(c->path);
    sodium_memzero(cf->hkey, sizeof(cf->hkey));
    free(cf);
}

static int msg_line(const char *m)
{
    const char *p = strstr(m, ":");
    int line = 0;

    /* "NAME:LINE: " - NAME may contain ':' itself, so take the last ":N: " */
    for (; p != NULL; p = strchr(p + 1, ':')) {
        char *end;
        long v = strtol(p + 1, &end, 10);
        if (end != p + 1 && end[0] == ':' && end[1] == ' ') {
            line = (int)v;
            break;
        }
    }
    return line == 0 ? 0x7fffffff : line;   /* file-level problems last */
}

/* Messages in line order (whole-file checks run after the parse). */
static void sort_errors(struct conf_loader *ld)
{
    char **lines = NULL, *p, *out;
    size_t n = 0, o = 0;

    for (p = ld->errors; p && *p; p = strchr(p, '\n') + 1) {
        lines = xrealloc(lines, (n + 1) * sizeof(*lines));
        lines[n++] = p;
    }
    for (size_t i = 1; i < n; i++)              /* insertion sort: stable, short list */
        for (size_t j = i; j > 0 && msg_line(lines[j - 1]) > msg_line(lines[j]); j--) {
            char *t = lines[j];
            lines[j] = lines[j - 1];
            lines[j - 1] = t;
        }
    out = xmalloc(ld->errlen + 1);
    for (size_t i = 0; i < n; i++) {
        size_t len = (size_t)(strchr(lines[i], '\n') - lines[i]) + 1;
        memcpy(out + o, lines[i], len);
        o += len;
    }
    out[o] = '\0';
    free(lines);
    free(ld->errors);
    ld->errors = out;
}

static struct conf *load(struct conf_loader *ld, char **errors)
{
    struct conf_full *cf = xcalloc(1, sizeof(*cf));
    struct conf *c = &cf->pub;
    char err[600];

    if (sodium_init() < 0)
        log_panic("sodium_init failed");
    conf_ini_setup();
    ld->c = c;
    c->refcnt = 1;
    c->msys = msys_new();
    for (size_t i = 0; i < conf_n_keys; i++) {
        const struct conf_key *k = &conf_keys[i];
        if (conf_is_named(k->section))
            continue;
        if (conf_set_value(ld, k, c, k->def, 0, err, sizeof(err)) < 0)
            log_panic("conf: bad default for [%s] %s: %s", k->section, k->name, err);
    }
    if (ld->fp != NULL || ld->text != NULL)
        conf_parse_text(ld);
    finish(ld, cf);
    loader_free(ld);
    if (ld->n_errors > 0) {
        sort_errors(ld);
        conf_free(c);
        if (errors)
            *errors = ld->errors;
        else
            free(ld->errors);
        return NULL;
    }
    if (errors)
        *errors = NULL;
    return c;
}

struct conf *conf_load_string(const char *text, const char *name, unsigned flags, char **errors)
{
    struct conf_loader ld;
    struct conf *c;

    memset(&ld, 0, sizeof(ld));
    ld.name = name ? name : "(string)";
    ld.flags = flags;
    ld.text = text ? text : "";
    c = load(&ld, errors);
    if (c)
        c->path = xstrdup(ld.name);
    return c;
}

struct conf *conf_load(const char *path, unsigned flags, char **errors)
{
    struct conf_loader ld;
    struct conf *c;

    memset(&ld, 0, sizeof(ld));
    ld.name = path;
    ld.flags = flags;
    ld.fp = fopen(path, "re");
    if (ld.fp == NULL) {
        int e = errno;
        if (e == ENOENT && (flags & CONF_MISSING_OK)) {
            ld.name = "(defaults)";
            c = load(&ld, errors);
            if (c)
                c->path = xstrdup("(defaults)");
            return c;
        }
        if (errors)
            *errors = xasprintf("%s:0: cannot open: %s\n", path, strerror(e));
        return NULL;
    }
    {
        /* fopen() opens a directory fine and reading it then just fails */
        struct stat st;
        if (fstat(fileno(ld.fp), &st) == 0 && !S_ISREG(st.st_mode)) {
            fclose(ld.fp);
            if (errors)
                *errors = xasprintf("%s:0: not a regular file\n", path);
            return NULL;
        }
        ld.file_mode = fstat(fileno(ld.fp), &st) == 0 ? (int)(st.st_mode & 07777) : 0;
    }
    c = load(&ld, errors);
    fclose(ld.fp);
    if (c)
        c->path = xstrdup(path);
    return c;
}

struct conf *conf_ref(struct conf *c)
{
    if (c)
        __atomic_fetch_add(&c->refcnt, 1, __ATOMIC_RELAXED);
    return c;
}

struct conf *conf_unref(struct conf *c)
{
    if (c && __atomic_sub_fetch(&c->refcnt, 1, __ATOMIC_ACQ_REL) == 0)
        conf_free(c);
    return NULL;
}

/* ---- queries ------------------------------------------------------------ */

int conf_is_opt_out(const struct conf *c, const char *addr_key)
{
    if (c == NULL || addr_key == NULL || c->n_opt_out == 0)
        return 0;
    return bsearch(&addr_key, c->opt_out, c->n_opt_out, sizeof(char *), str_cmp) != NULL;
}

const struct conf_token *conf_token_find(const struct conf *c, const char *presented, size_t len)
{
    const struct conf_full *cf = (const struct conf_full *)c;
    unsigned char h[32];
    size_t found = 0;             /* index + 1 */

    if (c == NULL || presented == NULL || c->n_tokens == 0)
        return NULL;
    crypto_generichash(h, sizeof(h), (const unsigned char *)presented, len, cf->hkey,
                       sizeof(cf->hkey));
    for (size_t i = 0; i < c->n_tokens; i++) {
        /* sodium_memcmp: 0 or -1 in constant time; mask is all ones on a match */
        size_t mask = (size_t)0 - (size_t)(sodium_memcmp(h, cf->tok_hash[i], sizeof(h)) + 1);
        found |= mask & (i + 1);  /* secrets are unique: at most one match */
    }
    sodium_memzero(h, sizeof(h));
    return found ? &c->tokens[found - 1] : NULL;
}

/* ---- the sample --------------------------------------------------------- */

static void sample_row(FILE *fp, const struct conf_key *k)
{
    fprintf(fp, "# %s\n", k->doc);
    fprintf(fp, "#%s =%s%s\n", k->name, k->def[0] ? " " : "", k->def);
}

void conf_write_sample(FILE *fp)
{
    const char *section = "";

    fputs("# mailstate.conf - read by every mailstate program (see mailstate.conf(5)).\n"
          "#\n"
          "# Every key is shown commented out, with its default.  Comments start a line\n"
          "# with # or ;, or follow a value after \" ;\".  Lists are separated by spaces\n"
          "# or commas and may continue on indented lines.  Durations: 45s 90m 12h 30d 2w;\n"
          "# sizes: 4096 64k 512M 4G.  Check a file with mailstate-milter -n -c FILE.\n",
          fp);
    for (size_t i = 0; i < conf_n_keys; i++) {
        const struct conf_key *k = &conf_keys[i];
        if (conf_is_named(k->section))
            continue;
        if (strcmp(k->section, section) != 0) {
            section = k->section;
            fprintf(fp, "\n[%s]\n", section);
        }
        sample_row(fp, k);
    }
    fputs("\n"
          "# One [server NAME] section per server of the mail system; every server\n"
          "# carries the same list.  Without any, this host (this_server) is the only\n"
          "# server and hosts \"localhost\".  Example:\n"
          "#\n"
          "#[server mx1]\n", fp);
    for (size_t i = 0; i < conf_n_keys; i++)
        if (strcmp(conf_keys[i].section, "server") == 0)
            sample_row(fp, &conf_keys[i]);
    fputs("#\n"
          "#[server mx2]\n"
          "#domains = c.example\n"
          "#tracker = http://10.0.0.2:8026\n"
          "\n"
          "# One [token NAME] section per HTTP client of the tracker (webmail, the\n"
          "# Dovecot plugin, admins): secret or secret_file (not both), and scopes.\n"
          "# Give no token both notify and query: a query answer names mails, and a\n"
          "# token that may also notify could then mark any of them read.  So the\n"
          "# Dovecot plugin's token has notify, a reporting client's its own with\n"
          "# query.  Example:\n"
          "#\n"
          "#[token dovecot]\n", fp);
    for (size_t i = 0; i < conf_n_keys; i++)
        if (strcmp(conf_keys[i].section, "token") == 0)
            sample_row(fp, &conf_keys[i]);
    fputs("\n"
          "# One [webhook NAME] section per receiver of the event feed (issue 17): each\n"
          "# gets every event it asks for, in order, at least once, POSTed as JSON and\n"
          "# signed: Mailstate-Signature: t=UNIX,v1=HEX(HMAC-SHA256(secret, \"t.\" + body)).\n"
          "# SIGHUP applies added, removed and changed sections; a name keeps its position.\n"
          "# Example:\n"
          "#\n"
          "#[webhook crm]\n", fp);
    for (size_t i = 0; i < conf_n_keys; i++)
        if (strcmp(conf_keys[i].section, "webhook") == 0)
            sample_row(fp, &conf_keys[i]);
}
