<?php

/**
 * mailstate - read marks from the mailstate tracker in Roundcube 1.6.
 *
 * In the message list, every message the user sent (any message in the Sent
 * folder, and in other folders any message From one of the user's
 * identities) gets a mark: none / some / all of its recipients read, with
 * who and when on hover (or tap).  The opened message gets a "Read status"
 * panel listing each recipient with status and time.
 *
 * How it stays out of the way: the list and the message are rendered
 * without waiting for the tracker.  The page only carries the Message-IDs
 * of the user's own messages (env mailstate_ids / mailstate_msgid); the
 * browser then asks this plugin once per list page (plugin.mailstate-lookup),
 * and the plugin asks the tracker with one GET /v1/me/sent?message_id=...
 * per 50 ids, as the logged-in user (HTTP Basic with the IMAP login and the
 * session password, as the managesieve plugin reuses them), with a timeout
 * of at most 1 s.  Any failure - tracker down, slow, 401, not JSON - gives
 * an empty answer: no marks, no error message.
 *
 * Config (config.inc.php.dist): mailstate_url, mailstate_timeout.
 */
require_once __DIR__ . '/lib/mailstate_status.php';

class mailstate extends rcube_plugin
{
    public $task = 'mail';

    /** Most Message-IDs one lookup accepts (Roundcube's largest page is 200). */
    const LOOKUP_MAX = 200;

    private $rc;
    private $emails;

    public function init()
    {
        $this->rc = rcmail::get_instance();
        $this->load_config('config.inc.php');
        $this->register_action('plugin.mailstate-lookup', [$this, 'lookup']);

        // every action that lists messages (list, search, refresh, move, ...)
        // runs messages_list: the hooks are cheap and need no network
        $this->add_hook('storage_init', [$this, 'storage_init']);
        $this->add_hook('messages_list', [$this, 'messages_list']);
        $this->add_hook('message_load', [$this, 'message_load']);
        $this->add_hook('message_objects', [$this, 'message_objects']);

        $action = $this->rc->action;
        if (is_object($this->rc->output) && $this->rc->output->type == 'html'
            && in_array($action, ['', 'index', 'show', 'preview'], true)
        ) {
            $this->add_texts('localization/', ['readstatus']);
            $this->include_script('mailstate.js');
            $this->include_stylesheet($this->local_skin_path() . '/mailstate.css');
        }
    }

    /** The list's IMAP FETCH gets Message-ID too (not among Roundcube's default list headers). */
    public function storage_init($p)
    {
        $p['fetch_headers'] = trim((isset($p['fetch_headers']) ? $p['fetch_headers'] : '') . ' MESSAGE-ID');
        return $p;
    }

    /** The list page: hand the browser the Message-IDs of the user's own rows. */
    public function messages_list($p)
    {
        $ids = [];
        if (!empty($p['messages'])) {
            $set   = $this->rc->storage->get_search_set();
            $multi = $set && !empty($set[1]->multi);
            $cur   = $this->rc->storage->get_folder();
            foreach ($p['messages'] as $h) {
                $folder = !empty($h->folder) ? $h->folder : $cur;
                // "mid:N" is Roundcube's stand-in for a message without Message-ID
                if (empty($h->messageID) || strpos($h->messageID, 'mid:') === 0
                    || !$this->is_own($h, $folder)
                ) {
                    continue;
                }
                $id = mailstate_status::normalize_msgid($h->messageID);
                if ($id !== null) {
                    // the row id the client uses (index.php appends the folder in multi-folder lists)
                    $ids[$h->uid . ($multi ? '-' . $h->folder : '')] = $id;
                }
            }
        }
        $this->rc->output->set_env('mailstate_ids', (object) $ids);
        return $p;
    }

    /** The opened message: its Message-ID if the user sent it. */
    public function message_load($p)
    {
        $msg = $p['object'];
        if (!empty($msg->headers) && !empty($msg->headers->messageID)
            && strpos($msg->headers->messageID, 'mid:') !== 0
            && $this->is_own($msg->headers, $msg->folder)
            && ($id = mailstate_status::normalize_msgid($msg->headers->messageID)) !== null
        ) {
            $this->rc->output->set_env('mailstate_msgid', $id);
        }
        return $p;
    }

    /** Where the "Read status" panel goes (filled by mailstate.js, hidden until then). */
    public function message_objects($p)
    {
        if ($this->rc->output->get_env('mailstate_msgid')) {
            $p['content'][] = html::div(['id' => 'mailstate-panel', 'class' => 'mailstate-panel',
                                         'style' => 'display:none', 'aria-live' => 'polite'], '');
        }
        return $p;
    }

    /**
     * plugin.mailstate-lookup: POST _ids = JSON list of Message-IDs.
     * Answers {"marks": {MSGID: {mark, text, title, heading, recipients}}}
     * (empty on any trouble).
     */
    public function lookup()
    {
        $marks = [];
        $this->add_texts('localization/');
        try {
            // allow_html: Message-IDs are in <...>, which strip_tags would eat;
            // the value is only decoded and validated, never echoed as HTML
            $raw = rcube_utils::get_input_string('_ids', rcube_utils::INPUT_POST, true);
            $ids = json_decode($raw, true, 4);
            if (is_array($ids)) {
                $ids   = array_slice(array_values(array_filter($ids, 'is_string')), 0, self::LOOKUP_MAX);
                $marks = $this->present($this->ask_tracker($ids));
            }
        }
        catch (\Throwable $e) {
            $this->log('lookup failed: ' . $e->getMessage());
            $marks = [];
        }
        $this->rc->output->sendExit(json_encode(['marks' => (object) $marks]),
            ['Content-Type: application/json; charset=UTF-8', 'Cache-Control: no-store']);
    }

    /** Summaries by Message-ID from the tracker; [] if it cannot be asked. */
    private function ask_tracker(array $ids)
    {
        $url  = rtrim((string) $this->rc->config->get('mailstate_url', 'http://127.0.0.1:8026'), '/');
        $t    = (float) $this->rc->config->get('mailstate_timeout', 1);
        $t    = $t > 0 && $t <= 1 ? $t : 1.0;   // never longer than 1 s
        $user = isset($_SESSION['username']) ? (string) $_SESSION['username'] : '';
        $pass = isset($_SESSION['password']) ? (string) $this->rc->decrypt($_SESSION['password']) : '';
        if ($url === '' || $user === '' || $pass === '') {
            return [];
        }

        $client = $this->rc->get_http_client();
        $out    = [];
        foreach (mailstate_status::batches($ids) as $batch) {
            try {
                $resp = $client->request('GET', $url . '/v1/me/sent?' . mailstate_status::query($batch), [
                    'auth'            => [$user, $pass],
                    'timeout'         => $t,
                    'connect_timeout' => $t,
                    'http_errors'     => false,
                    'allow_redirects' => false,
                    'headers'         => ['Accept' => 'application/json'],
                ]);
            }
            catch (\Throwable $e) {
                // down or slow: stop here, the rest would only wait as long
                $this->log('tracker not reachable: ' . $e->getMessage());
                break;
            }
            $code = $resp->getStatusCode();
            if ($code !== 200) {
                $this->log("tracker answered $code for " . count($batch) . ' Message-IDs');
                break;
            }
            $out += mailstate_status::parse((string) $resp->getBody(), $batch);
        }
        return $out;
    }

    /** Summaries -> what the browser shows (texts localized, times in the user's zone). */
    private function present(array $summaries)
    {
        $out = [];
        foreach ($summaries as $id => $s) {
            $text = $this->gettext(['name' => 'nofread', 'vars' => ['read' => $s['read'], 'total' => $s['total']]]);
            $rows = [];
            $lines = [];
            foreach ($s['recipients'] as $r) {
                $time = $r['status'] === 'read' && $r['first_read'] ? $this->rc->format_date($r['first_read']) : '';
                $label = $this->gettext('status_' . $r['status']);
                $row = ['address' => $r['address'], 'status' => $r['status'], 'label' => $label, 'time' => $time];
                if ($r['via_list']) {
                    $row['via'] = $this->gettext(['name' => 'via', 'vars' => ['list' => $r['via_list']]]);
                }
                if ($r['status'] === 'read' && $r['read_count'] > 1 && $r['last_read']) {
                    $row['again'] = $this->gettext(['name' => 'lastread',
                        'vars' => ['time' => $this->rc->format_date($r['last_read']), 'count' => $r['read_count']]]);
                }
                $rows[]  = $row;
                $lines[] = $r['address'] . ': ' . $label . ($time !== '' ? ' ' . $time : '');
            }
            $out[$id] = [
                'mark'       => $s['mark'],
                'text'       => $text,
                'title'      => implode("\n", $lines),
                'heading'    => $this->gettext('readstatus'),
                'recipients' => $rows,
            ];
        }
        return $out;
    }

    /** Did the user send this message?  Sent folder, or From one of the identities. */
    private function is_own($headers, $folder)
    {
        $sent = (string) $this->rc->config->get('sent_mbox');
        if ($sent !== '' && $folder === $sent) {
            return true;
        }
        if ($this->emails === null) {
            $this->emails = [];
            foreach ((array) $this->rc->user->list_emails() as $e) {
                $this->emails[strtolower($e['email'])] = true;
            }
        }
        foreach (rcube_mime::decode_address_list((string) $headers->from, null, false) as $a) {
            if (!empty($a['mailto']) && isset($this->emails[strtolower($a['mailto'])])) {
                return true;
            }
        }
        return false;
    }

    private function log($line)
    {
        rcube::write_log('mailstate', $line);
    }
}
