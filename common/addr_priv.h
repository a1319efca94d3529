#ifndef MAILSTATE_ADDR_PRIV_H
#define MAILSTATE_ADDR_PRIV_H
/*
 * addr_priv - addr.c's libidn2-only path, for the differential test that
 * holds the ASCII fast path to it; not for other modules.
 *
 * addr_domain_norm_idn() is addr_domain_norm() with every domain sent
 * through libidn2 (the fast path off): same contract, same results.
 */
#include "addr.h"

int addr_domain_norm_idn(const char *domain, char out[ADDR_DOMAIN_MAX + 2]);

#endif
