#ifndef MAILSTATE_STORE_REC_H
#define MAILSTATE_STORE_REC_H
/*
 * store_rec - byte encoding of the store's records and the pure read/merge
 * rules (internal to the store; see store.h for the layout).
 *
 * Every value starts with a version byte (STORE_REC_VERSION).  Integers are
 * little-endian and fixed width; strings are a u32 length then the bytes,
 * with length 0xFFFFFFFF meaning NULL.  No struct is ever dumped, so the
 * encoding does not depend on the compiler or the host.
 *
 *   mail   v u64 created_ms, u32 n_rcpt, str sender, str queue_id,
 *            str message_id, str subject [, str login]
 *          (version STORE_REC_MAIL_VERSION = 2 appends login; a version 1
 *          mail record decodes with login = NULL)
 *   rcpt   v=3 u8 flags, varint updated_ms, vstr server
 *            [, varint first_read, varint last_read, varint read_count]
 *            [, vstr via] [, vstr original_recipient]      (address = key)
 *          flags: bits 0-1 status, 0x04 expanded, 0x08 the three read
 *          fields follow (absent = all zero), 0x10 via follows (absent =
 *          ""), 0x20 original_recipient follows (absent = NULL; "" is
 *          kept), 0xC0 must be 0.  varint = unsigned LEB128 (7 bits a byte,
 *          low first; no overlong spelling), vstr = varint length, bytes.
 *          (a sent entry on server "mx1": 12 bytes; 50 in version 2)
 *          Versions 1 and 2 still decode (written before schema 5):
 *            u8 status, u64 first_read, u64 last_read, u32 read_count,
 *            u64 updated_ms, str server, str via
 *            [, str original_recipient, u8 expanded]   (version 2 only)
 *   outbox v u64 queued_ms, ID(26), rcpt_key            (rest of the value)
 *
 * Decoders return 0, or -1 for a truncated/overlong record or an unknown
 * version (the caller logs it and reports STORE_EIO); they allocate the
 * strings of the result (released with store_rcpt_clear / mail_clear).
 * Encoders write into a growing buffer that never fails (xmem).
 */
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define STORE_REC_VERSION 1
#define STORE_REC_MAIL_VERSION 2
#define STORE_REC_RCPT_VERSION 3

struct store_rec_buf {
    unsigned char *p;
    size_t         len, cap;
};

void store_rec_buf_free(struct store_rec_buf *b);

void store_rec_mail_encode(struct store_rec_buf *b, const struct store_mail *m);
int  store_rec_mail_decode(const void *data, size_t len, const char *id,
                           struct store_mail *out);
void store_rec_mail_clear(struct store_mail *m);

void store_rec_rcpt_encode(struct store_rec_buf *b, const struct store_rcpt *r);
int  store_rec_rcpt_decode(const void *data, size_t len, const char *address,
                           size_t address_len, struct store_rcpt *out);
/* Deep copy (dst is overwritten, not freed first). */
void store_rec_rcpt_copy(struct store_rcpt *dst, const struct store_rcpt *src);

void store_rec_outbox_encode(struct store_rec_buf *b, uint64_t queued_ms,
                             const char *id, const char *rcpt);
/* On success *rcpt points into data (rcpt_len bytes, not NUL-terminated). */
int  store_rec_outbox_decode(const void *data, size_t len, uint64_t *queued_ms,
                             char id[MAILID_ID_LEN + 1], const char **rcpt,
                             size_t *rcpt_len);

/* Copy via into the fixed field, truncated; NULL = "". */
void store_rec_set_via(struct store_rcpt *r, const char *via);

/*
 * A read at when_ms: the first read sets status read, first = last = when,
 * count 1; a later one sets first = min, last = max, count + 1.
 */
void store_rec_apply_read(struct store_rcpt *r, uint64_t when_ms, const char *via);
/* Delivered: status at least received; 1 if it changed the entry. */
int  store_rec_apply_received(struct store_rcpt *r, const char *via);
/* Expunged while unseen: 1 if it changed the entry (never after a read). */
int  store_rec_apply_deleted(struct store_rcpt *r, const char *via);
/*
 * Merge remote into local (design §7): status = max, first_read = min of the
 * non-zero ones, last_read = max, read_count = max; via = the via of the
 * higher (status, via string) pair.  Each field is a max/min over the inputs,
 * so the result does not depend on the order or repetition of merges.
 * Returns 1 if local changed.
 */
int  store_rec_merge(struct store_rcpt *local, const struct store_rcpt *remote);

#endif
