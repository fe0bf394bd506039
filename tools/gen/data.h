/* data.h - the fictional customers and waybills: Chinese names, mainland
 * mobile numbers (allocated prefixes only), landlines, addresses, GB 11643
 * resident ID numbers, waybill numbers in several carriers' formats, and a
 * waybill record rendered as JSON.
 *
 * Everything is derived from keys by hashing (no state), so the same
 * waybill number always shows the same record. Each value a response
 * carries that counts as a record (valid and unmasked) is also reported to
 * the truth sink; masked values and decoys are not. */
#ifndef LH_GEN_DATA_H
#define LH_GEN_DATA_H

#include <stdint.h>

#include "buf.h"
#include "truth.h"

typedef struct {
    const char *province, *city, *area; /* area: landline area code */
    int muni;                           /* municipality: province == city */
    int ndist;
    const char *dist[4], *code[4]; /* district and its GB/T 2260 code */
} data_city;

extern const data_city data_cities[];
extern const int data_ncities;

typedef struct {
    char name[16], mname[16]; /* full and masked (李*) */
    char mobile[12];
    char tel[16];
    char addr[200], maddr[200];
    char id[19];
} data_person;

/* Options for rendering records. */
typedef struct {
    int mixed_forms; /* some mobiles as "+86 138..." or "138-1234-5678" */
    double masked;   /* share of persons shown masked */
    double id_rate;  /* share of senders with a resident ID */
    double tel_rate; /* share of receivers with a landline */
    double decoy;    /* share of records with look-alike non-records */
    uint32_t pool;   /* persons per city */
    int64_t day0;    /* unix seconds: records are created before this */
} data_opts;

enum { DATA_NCARRIERS = 11 };

/* Person idx of city (deterministic). */
void data_person_make(uint64_t seed, int city, uint32_t idx, data_person *p);
/* A waybill number for key h (carrier drawn by share); out >= 24 bytes. */
void data_waybill_no(uint64_t h, char *out);
/* The serial-th number of carrier c (0..DATA_NCARRIERS-1): sequential
 * numbers for enumeration. */
void data_waybill_seq(int c, uint64_t serial, char *out);
/* A random valid mobile number (11 digits + NUL). */
void data_mobile(uint64_t h, char *out);
/* GB 11643 check character of the first 17 digits. */
char data_id_check(const char *id17);

/* Appends the JSON object of waybill wbno whose receiver lives in city;
 * reports counted values to sink (may be NULL). */
void data_record_json(buf_t *b, const data_opts *o, uint64_t seed, const char *wbno, int city,
                      truth_sink *sink);

#endif
