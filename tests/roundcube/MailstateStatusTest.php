<?php

/**
 * Units of the Roundcube plugin's pure part (roundcube/mailstate/lib/
 * mailstate_status.php): Message-ID normalization, the batched query
 * string, and parsing the tracker's answer to GET /v1/me/sent?message_id=
 * into marks.  Run by Debian's phpunit (ctest: roundcube/phpunit).
 */
use PHPUnit\Framework\TestCase;

require_once __DIR__ . '/../../roundcube/mailstate/lib/mailstate_status.php';

final class MailstateStatusTest extends TestCase
{
    /** A mail as the tracker answers it (CONTRACTS.md, MAIL). */
    private static function mail($msgid, $rcpts)
    {
        return ['mail_id' => '01JDQ0000000000000000000AB', 'sender' => 'alice@a.example',
                'created' => '2026-12-01T10:00:00.000Z', 'queue_id' => '4F2A1C3',
                'message_id' => $msgid, 'recipients' => $rcpts,
                'summary' => ['total' => is_array($rcpts) ? count($rcpts) : 0, 'read' => 0, 'received' => 0,
                              'sent' => 0, 'deleted_unread' => 0]];
    }

    private static function answer(array $mails)
    {
        return json_encode(['mails' => $mails, 'next_cursor' => '']);
    }

    private static $BOB_READ = ['address' => 'bob@a.example', 'server' => 'mx1', 'status' => 'read',
                                'first_read' => '2026-12-01T10:05:00.000Z',
                                'last_read' => '2026-12-01T10:07:00Z', 'read_count' => 2, 'via' => 'imap'];
    private static $DAVE_SENT = ['address' => 'dave@a.example', 'server' => 'mx1', 'status' => 'sent'];

    public function msgidCases()
    {
        return [
            'with brackets'          => ['<a.1@mx1.a.example>', '<a.1@mx1.a.example>'],
            'without brackets'       => ['a.1@mx1.a.example', '<a.1@mx1.a.example>'],
            'padded, folded'         => ["  <a.1@mx1.a.example>\r\n ", '<a.1@mx1.a.example>'],
            'case kept'              => ['<Ab.C@Mx1.A.example>', '<Ab.C@Mx1.A.example>'],
            'empty'                  => ['', null],
            'blank'                  => ["  \t", null],
            'not a string'           => [42, null],
            // bad input: header injection - a CR/LF inside the value is refused
            'CRLF inside'            => ["<a@b>\r\nBcc: x@y", null],
            // bad input: a space inside would split the query value
            'inner space'            => ['<a b@c>', null],
            'NUL'                    => ["<a\0@b>", null],
            'unclosed'               => ['<a@b', null],
            'only brackets'          => ['<>', null],
            // bad input: an oversized value (more than a header line may hold)
            'too long'               => ['<' . str_repeat('x', 1000) . '@b>', null],
        ];
    }

    /** @dataProvider msgidCases */
    public function testNormalizeMsgid($in, $want)
    {
        $this->assertSame($want, mailstate_status::normalize_msgid($in));
    }

    public function testBatchesDedupAndSplitAt50()
    {
        $ids = [];
        for ($i = 0; $i < 120; $i++) {
            $ids[] = "m$i@x";
        }
        $ids[] = '<m0@x>';          // the same as m0@x: asked once
        $ids[] = "bad\n@x";        // dropped
        $b = mailstate_status::batches($ids);
        $this->assertSame([50, 50, 20], array_map('count', $b));
        $this->assertSame('<m0@x>', $b[0][0]);
        $this->assertSame('<m119@x>', $b[2][19]);
        $this->assertSame([], mailstate_status::batches([]));
    }

    public function testQueryRepeatsMessageId()
    {
        $this->assertSame('message_id=%3Ca%2B1%40x%3E&message_id=%3Cb%26c%3D%40x%3E',
            mailstate_status::query(['<a+1@x>', '<b&c=@x>']));
    }

    public function markCases()
    {
        return [
            [0, 2, 'none'], [1, 2, 'some'], [2, 2, 'all'], [1, 1, 'all'],
            [0, 0, 'none'], [3, 2, 'all'], [-1, 2, 'none'],
        ];
    }

    /** @dataProvider markCases */
    public function testMark($read, $total, $want)
    {
        $this->assertSame($want, mailstate_status::mark($read, $total));
    }

    public function testParseOneOfTwoRead()
    {
        $got = mailstate_status::parse(self::answer([
            self::mail('<q1@mx1.a.example>', [self::$BOB_READ, self::$DAVE_SENT])]));
        $this->assertSame(['<q1@mx1.a.example>'], array_keys($got));
        $s = $got['<q1@mx1.a.example>'];
        $this->assertSame([2, 1, 'some'], [$s['total'], $s['read'], $s['mark']]);
        $this->assertSame(['bob@a.example', 'read', strtotime('2026-12-01T10:05:00Z'),
                           strtotime('2026-12-01T10:07:00Z'), 2],
            [$s['recipients'][0]['address'], $s['recipients'][0]['status'],
             $s['recipients'][0]['first_read'], $s['recipients'][0]['last_read'],
             $s['recipients'][0]['read_count']]);
        $this->assertSame(['dave@a.example', 'sent', null, 0],
            [$s['recipients'][1]['address'], $s['recipients'][1]['status'],
             $s['recipients'][1]['first_read'], $s['recipients'][1]['read_count']]);
    }

    public function testParseKeysByBracketedIdWhateverTheTrackerWrote()
    {
        $got = mailstate_status::parse(self::answer([self::mail(' q2@x ', [self::$DAVE_SENT])]), ['<q2@x>']);
        $this->assertSame(['<q2@x>'], array_keys($got));
        $this->assertSame('none', $got['<q2@x>']['mark']);
    }

    public function testParseMergesTwoMailsWithOneMessageId()
    {
        $dave_read = ['address' => 'Dave@a.example', 'status' => 'read', 'first_read' => '2026-12-01T11:00:00Z'];
        $got = mailstate_status::parse(self::answer([
            self::mail('<q3@x>', [self::$BOB_READ, self::$DAVE_SENT]),
            self::mail('<q3@x>', [$dave_read])]));
        $s = $got['<q3@x>'];
        $this->assertSame([2, 2, 'all'], [$s['total'], $s['read'], $s['mark']]);
    }

    public function testParseListMembersNotTheListEntry()
    {
        $list   = ['address' => 'team@a.example', 'status' => 'sent', 'expanded' => true,
                   'members' => ['bob@a.example', 'dave@a.example']];
        $bob    = self::$BOB_READ + ['original_recipient' => 'team@a.example'];
        $dave   = self::$DAVE_SENT + ['original_recipient' => 'team@a.example'];
        $direct = ['address' => 'carol@a.example', 'status' => 'sent', 'original_recipient' => 'Carol@a.example'];
        $s = mailstate_status::parse(self::answer([self::mail('<q4@x>', [$list, $bob, $dave, $direct])]))['<q4@x>'];
        $this->assertSame([3, 1], [$s['total'], $s['read']]);
        $this->assertSame(['team@a.example', 'team@a.example', null],
            array_column($s['recipients'], 'via_list'));
    }

    public function badAnswers()
    {
        return [
            // bad input: the tracker (or something in its place) answers HTML or garbage
            'not JSON'            => ['<html>502 Bad Gateway</html>'],
            'empty body'          => [''],
            'JSON null'           => ['null'],
            'mails not a list'    => ['{"mails": "x"}'],
            'an error object'     => ['{"error":"auth_unavailable","detail":"down"}'],
            // bad input: nesting deep enough to exhaust the decoder
            'too deep'            => [str_repeat('[', 40) . str_repeat(']', 40)],
            'mail without msgid'  => [self::answer([['recipients' => [self::$BOB_READ]]])],
            'recipients a string' => [self::answer([self::mail('<z@x>', 'bob')])],
            // bad input: an object where a list is expected
            'recipients an object' => [self::answer([self::mail('<z@x>', ['a' => self::$BOB_READ])])],
        ];
    }

    /** @dataProvider badAnswers */
    public function testParseBadAnswerGivesNoMarks($body)
    {
        $this->assertSame([], mailstate_status::parse($body, ['<z@x>']));
    }

    public function testParseDropsBadRecipientsKeepsGoodOnes()
    {
        $rcpts = [
            // bad input: an unknown status must not count as read or show up
            ['address' => 'eve@a.example', 'status' => 'pwned'],
            // bad input: a control character in the address (log/terminal injection)
            ['address' => "eve\n@a.example", 'status' => 'read'],
            // bad input: wrong types
            ['address' => ['x'], 'status' => 'read'],
            ['address' => 'eve@a.example', 'status' => 3],
            'not an object',
            // bad input: an oversized address
            ['address' => str_repeat('e', 400) . '@a.example', 'status' => 'read'],
            // bad input: times that are not RFC 3339 and a negative count are ignored
            ['address' => 'bob@a.example', 'status' => 'read', 'first_read' => 'yesterday',
             'last_read' => '2026-12-01 10:07', 'read_count' => -5],
        ];
        $s = mailstate_status::parse(self::answer([self::mail('<q5@x>', $rcpts)]))['<q5@x>'];
        $this->assertSame([1, 1, 'all'], [$s['total'], $s['read'], $s['mark']]);
        $this->assertSame(['bob@a.example', null, null, 0],
            [$s['recipients'][0]['address'], $s['recipients'][0]['first_read'],
             $s['recipients'][0]['last_read'], $s['recipients'][0]['read_count']]);
    }

    public function testParseIgnoresIdsThatWereNotAsked()
    {
        // bad input: an answer naming a Message-ID the page did not ask for
        // must not put a mark on that other message
        $body = self::answer([self::mail('<asked@x>', [self::$BOB_READ]),
                              self::mail('<other@x>', [self::$BOB_READ])]);
        $this->assertSame(['<asked@x>'], array_keys(mailstate_status::parse($body, ['<asked@x>'])));
        $this->assertSame([], mailstate_status::parse($body, []));
    }

    public function testParseEmptyAnswer()
    {
        $this->assertSame([], mailstate_status::parse(self::answer([]), ['<a@x>']));
    }

    private static function labels($lang)
    {
        $labels = [];
        include __DIR__ . '/../../roundcube/mailstate/localization/' . $lang . '.inc';
        return $labels;
    }

    /** Every text the plugin asks for exists in en_US and zh_CN, and nothing more. */
    public function testLocalizationsCoverEveryText()
    {
        $php = file_get_contents(__DIR__ . '/../../roundcube/mailstate/mailstate.php');
        preg_match_all("/gettext\\((?:\\['name' => )?'([a-z_]+)'/", $php, $m);
        $used = array_unique($m[1]);
        $used = array_merge(array_diff($used, ['status_']),
                            array_map(function ($s) { return "status_$s"; }, array_keys(mailstate_status::STATUSES)));
        sort($used);
        $this->assertContains('nofread', $used);
        foreach (['en_US', 'zh_CN'] as $lang) {
            $keys = array_keys(self::labels($lang));
            sort($keys);
            $this->assertSame($used, $keys, $lang);
        }
        $this->assertSame('$read of $total read', self::labels('en_US')['nofread']);
        $this->assertStringContainsString('$read', self::labels('zh_CN')['nofread']);
        $this->assertStringContainsString('$total', self::labels('zh_CN')['nofread']);
    }
}
