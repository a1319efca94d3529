<?php

/**
 * mailstate_status - the plugin's pure part: no Roundcube, no network.
 *
 * Turns Message-IDs into the tracker's query string and the tracker's
 * answer to GET /v1/me/sent?message_id=... into one summary per
 * Message-ID.  Everything in the answer is treated as untrusted: a value of
 * the wrong type, an unknown status or an oversized string is dropped, and
 * a body that is not the expected JSON gives an empty map (no marks), never
 * an exception.
 *
 * Summary shape (what parse() returns, keyed by the Message-ID with angle
 * brackets as normalize_msgid() writes it):
 *   ['total' => int, 'read' => int, 'mark' => 'none'|'some'|'all',
 *    'recipients' => [['address' => string, 'status' => string,
 *                      'first_read' => int|null (Unix time),
 *                      'last_read' => int|null, 'read_count' => int,
 *                      'via_list' => string|null], ...]]
 */
class mailstate_status
{
    /** The tracker's limit of message_id values per request (CONTRACTS.md). */
    const BATCH = 50;

    /** Longest Message-ID looked up (RFC 5322's line limit). */
    const MSGID_MAX = 998;

    /** Longest address or other string kept from the answer. */
    const STR_MAX = 320;

    /** Statuses in the tracker's order (sent < received < deleted_unread < read). */
    const STATUSES = ['sent' => 0, 'received' => 1, 'deleted_unread' => 2, 'read' => 3];

    /**
     * A Message-ID as the tracker compares it: trimmed, in angle brackets.
     * Returns null for an empty value or one that cannot be a header value
     * (control characters, inner whitespace, too long).
     */
    public static function normalize_msgid($value)
    {
        if (!is_string($value)) {
            return null;
        }
        $v = trim($value);
        if ($v === '') {
            return null;
        }
        if ($v[0] !== '<') {
            $v = '<' . $v . '>';
        }
        if (strlen($v) > self::MSGID_MAX || strlen($v) < 3 || substr($v, -1) !== '>'
            || preg_match('/[\x00-\x20\x7f]/', $v)
        ) {
            return null;
        }
        return $v;
    }

    /**
     * Distinct normalized Message-IDs of $values (invalid ones left out),
     * in groups of at most BATCH: one tracker request per group.
     */
    public static function batches(array $values)
    {
        $ids = [];
        foreach ($values as $v) {
            if (($n = self::normalize_msgid($v)) !== null) {
                $ids[$n] = true;
            }
        }
        return array_chunk(array_keys($ids), self::BATCH);
    }

    /**
     * The query string of one batch: message_id repeated, as the tracker
     * wants it (PHP's http_build_query would write message_id[0]=...).
     */
    public static function query(array $batch)
    {
        $parts = [];
        foreach ($batch as $id) {
            $parts[] = 'message_id=' . rawurlencode($id);
        }
        return implode('&', $parts);
    }

    /** 'none' (nobody read), 'some', or 'all' (every recipient read). */
    public static function mark($read, $total)
    {
        if ($read <= 0 || $total <= 0) {
            return 'none';
        }
        return $read >= $total ? 'all' : 'some';
    }

    /**
     * Parse the tracker's answer (the JSON body of a 200) into summaries by
     * Message-ID.  Only ids in $asked are kept (an answer cannot add marks to
     * other messages); pass null to keep all.  Several mails with one
     * Message-ID (the same message sent twice) are merged.
     */
    public static function parse($body, array $asked = null)
    {
        if (!is_string($body) || $body === '') {
            return [];
        }
        $doc = json_decode($body, true, 16);
        if (!is_array($doc) || !isset($doc['mails']) || !is_array($doc['mails'])) {
            return [];
        }
        $want = $asked === null ? null : array_flip($asked);
        $out  = [];
        foreach ($doc['mails'] as $mail) {
            if (!is_array($mail) || !isset($mail['message_id'])) {
                continue;
            }
            $id = self::normalize_msgid($mail['message_id']);
            if ($id === null || ($want !== null && !isset($want[$id]))) {
                continue;
            }
            $rcpts = self::recipients(isset($mail['recipients']) ? $mail['recipients'] : null);
            if ($rcpts === null) {
                continue;
            }
            $prev = isset($out[$id]) ? $out[$id]['recipients'] : [];
            $out[$id] = ['recipients' => self::merge($prev, $rcpts)];
        }
        foreach ($out as $id => $s) {
            $total = count($s['recipients']);
            $read  = 0;
            foreach ($s['recipients'] as $r) {
                $read += $r['status'] === 'read' ? 1 : 0;
            }
            $out[$id] = ['total' => $total, 'read' => $read,
                         'mark' => self::mark($read, $total)] + $s;
        }
        return $out;
    }

    /**
     * The recipients of one mail, or null if the list is not a list.  A list
     * entry that the tracker expanded (its members carry original_recipient)
     * is left out: its members are the people who read or not.
     */
    private static function recipients($list)
    {
        if (!is_array($list) || ($list && array_keys($list) !== range(0, count($list) - 1))) {
            return null;
        }
        $out = [];
        foreach ($list as $r) {
            if (!is_array($r) || !self::str_ok($r, 'address') || !self::str_ok($r, 'status')
                || !isset(self::STATUSES[$r['status']])
            ) {
                continue;
            }
            if (!empty($r['expanded'])) {
                continue;
            }
            $via = self::str_ok($r, 'original_recipient') && strcasecmp($r['original_recipient'], $r['address'])
                ? $r['original_recipient'] : null;
            $count = isset($r['read_count']) && is_int($r['read_count']) && $r['read_count'] >= 0
                ? $r['read_count'] : 0;
            $out[] = [
                'address'    => $r['address'],
                'status'     => $r['status'],
                'first_read' => self::time($r, 'first_read'),
                'last_read'  => self::time($r, 'last_read'),
                'read_count' => $count,
                'via_list'   => $via,
            ];
        }
        return $out;
    }

    /** Merge two recipient lists by address (case-insensitive): the higher status wins. */
    private static function merge(array $a, array $b)
    {
        $by = [];
        foreach (array_merge($a, $b) as $r) {
            $k = strtolower($r['address']);
            if (!isset($by[$k]) || self::STATUSES[$r['status']] > self::STATUSES[$by[$k]['status']]) {
                $by[$k] = $r;
            }
        }
        return array_values($by);
    }

    private static function str_ok(array $r, $key)
    {
        return isset($r[$key]) && is_string($r[$key]) && $r[$key] !== ''
            && strlen($r[$key]) <= self::STR_MAX && !preg_match('/[\x00-\x1f\x7f]/', $r[$key]);
    }

    /** An RFC 3339 time of the answer as Unix time, null if absent or not a time. */
    private static function time(array $r, $key)
    {
        if (!self::str_ok($r, $key)
            || !preg_match('/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/', $r[$key])
        ) {
            return null;
        }
        $t = strtotime($r[$key]);
        return $t === false ? null : $t;
    }
}
