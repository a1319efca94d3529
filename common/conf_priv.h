#ifndef MAILSTATE_CONF_PRIV_H
#define MAILSTATE_CONF_PRIV_H
/*
 * conf_priv - what conf.c and conf_parse.c share; not for other modules
 * (tests may read conf_keys[] to check every row).
 *
 * The loader holds one parse: the struct conf being filled, the raw
 * [server] and [token] records (built into msys and tokens after the whole
 * file is read, so order in the file does not matter), per-key "first seen
 * on line" for duplicate detection, and the collected error text.
 */
#include <stddef.h>
#include <string.h>

#include "cidr.h"
#include "conf.h"

#define CONF_LINE_MAX 8190     /* longest line we hand to inih */
#define CONF_NAME_MAX 32       /* [server NAME], [token NAME] */
#define CONF_SECRET_MIN 16     /* token secrets */

enum conf_type {
    CT_STRING, CT_BOOL, CT_INT, CT_MODE, CT_DURATION, CT_SIZE, CT_ENUM,
    CT_CIDRS, CT_ADDRS, CT_DOMAINS, CT_SCOPES,
    CT_SOCKET, CT_LISTEN, CT_HEADER, CT_URL, CT_SECRET,
    CT_EVENTS,              /* read received deleted_unread (issue 17) */
};

/* The named sections' kinds: their rows fill raw records, not struct conf. */
static inline int conf_is_named(const char *section)
{
    return strcmp(section, "server") == 0 || strcmp(section, "token") == 0 ||
           strcmp(section, "webhook") == 0;
}

/*
 * One row per key.  off/size locate the value in struct conf for the fixed
 * sections, in struct conf_srv_raw / conf_tok_raw for [server]/[token].
 * For strings min = 1 means "must not be empty"; for numbers min..max are
 * bounds in the type's unit (seconds, bytes), both 0 = unbounded.
 */
struct conf_key {
    const char         *section;
    const char         *name;
    enum conf_type      type;
    const char         *def;
    long long           min, max;
    const char *const  *choices;     /* CT_ENUM, index = stored value */
    size_t              off, size;
    const char         *doc;
};

extern const struct conf_key conf_keys[];
extern const size_t conf_n_keys;

#define CONF_N_KEYS_MAX 128

struct conf_dom_raw {
    char *text;
    int   line;
};

struct conf_srv_raw {
    char                *name;
    int                  line;
    char                *tracker;
    struct conf_dom_raw *doms;
    size_t               n_doms;
    int                  seen[CONF_N_KEYS_MAX];
};

struct conf_tok_raw {
    char    *name;
    int      line;
    char    *secret;
    char    *secret_file;
    unsigned scopes;
    int      seen[CONF_N_KEYS_MAX];
};

struct conf_hook_raw {          /* [webhook NAME] */
    char    *name;
    int      line;
    char    *url;
    char    *secret_file;
    unsigned events;
    int      seen[CONF_N_KEYS_MAX];
};

enum conf_sec { CONF_SEC_NONE, CONF_SEC_BAD, CONF_SEC_FIXED, CONF_SEC_NAMED };

struct conf_loader {
    struct conf *c;
    const char  *name;            /* file name for messages */
    unsigned     flags;
    int          file_mode;       /* permission bits of the file (0: a string) */

    /* input */
    FILE        *fp;
    const char  *text;
    size_t       pos;
    char        *buf;
    size_t       bufcap;

    /* position and state of the current line */
    int          line;
    int          handled, content, indented, have_key, continuing, last_bad;
    enum conf_sec sec_kind;
    char         sec_name[64];    /* "system", "server mx1" */
    char         sec_type[16];    /* "server" / "token" for named ones */
    void        *sec_record;

    int          seen[CONF_N_KEYS_MAX];
    int          fixed_line[12];
    cidr_list_t *trusted;         /* the CIDR list being filled (owned by c->msys) */

    struct conf_srv_raw **srv;    /* pointers: sec_record must stay valid */
    size_t                n_srv;
    struct conf_tok_raw **tok;
    size_t                n_tok;
    struct conf_hook_raw **hook;
    size_t                 n_hook;

    char        *errors;
    size_t       errlen;
    int          n_errors;
};

void conf_error(struct conf_loader *ld, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const struct conf_key *conf_key_find(const char *section, const char *name);
int conf_set_value(struct conf_loader *ld, const struct conf_key *k, void *base,
                   const char *value, int line, char *err, size_t errlen);
int conf_set_list(struct conf_loader *ld, const struct conf_key *k, void *base,
                  const char *value, int line, char *err, size_t errlen);
void conf_line_done(struct conf_loader *ld);
int conf_parse_text(struct conf_loader *ld);
void conf_ini_setup(void);
int conf_secret_chars(const char *s, size_t n);   /* visible ASCII, no space */

/* In conf.c: input, named records. */
int conf_src_next(struct conf_loader *ld, const char **line, size_t *len);
void conf_named_section(struct conf_loader *ld, const char *kind, const char *name, size_t n);
int *conf_record_seen(struct conf_loader *ld, const struct conf_key *k);

#endif
