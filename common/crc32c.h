#ifndef MAILSTATE_CRC32C_H
#define MAILSTATE_CRC32C_H
/*
 * crc32c - CRC-32C (Castagnoli, the iSCSI/ext4 polynomial 0x1EDC6F41,
 * reflected 0x82F63B78), for the event log's records (evlog.h).
 *
 * None of the stack's libraries has it (zlib's crc32 is the other
 * polynomial; libsodium has none), and it is a few lines.  Table-driven,
 * slicing by 8; no CPU-specific code.  crc32c(0, "123456789", 9) ==
 * 0xE3069283 (the check value of the catalogue).  To continue a CRC over
 * several pieces, pass the previous result as crc.
 */
#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(uint32_t crc, const void *data, size_t len);

#endif
