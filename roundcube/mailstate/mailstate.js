/**
 * mailstate plugin (client side).
 *
 * List: Roundcube's Elastic skin has a fixed row template, so marks go in
 * from the 'insertrow' event.  Rows of the user's own messages (their
 * Message-IDs come in env.mailstate_ids, keyed by row uid) are collected
 * while a list page is inserted; one lookup for all of them is sent when
 * the page is in (a 0 ms timer runs after the response's rows).
 * Message: env.mailstate_msgid -> one lookup -> the "Read status" panel.
 *
 * Lookups go to the plugin (plugin.mailstate-lookup), never to the tracker
 * directly.  A failed lookup shows nothing: no marks, no message.
 * Everything from the answer is inserted as text, never as HTML.
 */
(function () {
    var marks = {},     // Message-ID -> what the last lookup answered
        known = {},     // row uid -> Message-ID (each list response sends its own rows)
        pending = {},   // row uid -> Message-ID, waiting for the next lookup
        timer = null;

    function lookup(ids, done) {
        if (!ids.length)
            return;
        $.ajax({
            type: 'POST',
            url: rcmail.url('plugin.mailstate-lookup'),
            data: { _ids: JSON.stringify(ids), _remote: 1 },
            headers: { 'X-Roundcube-Request': rcmail.env.request_token },
            dataType: 'json',
            timeout: 10000,
            success: function (r) {
                if (r && r.marks && typeof r.marks === 'object') {
                    done(r.marks);
                    seen('ok:' + Object.keys(r.marks).length);
                }
                else
                    seen('bad');
            },
            // no message on purpose: without an answer there are no marks
            error: function () { seen('error'); }
        });
    }

    // For diagnostics and the browser test: lookups finished so far and how
    // the last one ended (ok:N = N messages known, error = no answer).
    function seen(how) {
        var d = document.documentElement.dataset;
        d.mailstateLookups = (parseInt(d.mailstateLookups || '0', 10) + 1).toString();
        d.mailstateLast = how;
    }

    function detail(m) {
        var box = $('<div class="mailstate-dialog">')
            .append($('<p class="mailstate-summary">').append(badge(m, false)))
            .append(table(m));
        rcmail.simple_dialog(box, m.heading, null, { cancel_button: 'close' });
    }

    function badge(m, interactive) {
        var b = $('<span>').addClass('mailstate-mark mailstate-' + m.mark).text(m.text);
        if (interactive) {
            b.attr({ title: m.title, role: 'button', tabindex: 0, 'aria-label': m.text + '. ' + m.title })
                // keep the list from selecting/opening the row under the mark
                .on('mousedown touchstart', function (e) { e.stopPropagation(); })
                .on('click', function (e) { e.stopPropagation(); e.preventDefault(); detail(m); })
                .on('keydown', function (e) { if (e.which == 13 || e.which == 32) { e.preventDefault(); detail(m); } });
        }
        return b;
    }

    function table(m) {
        var t = $('<table class="mailstate-recipients">');
        $.each(m.recipients || [], function (i, r) {
            var who = $('<td class="mailstate-address">').text(r.address);
            if (r.via)
                who.append($('<span class="mailstate-via">').text(' (' + r.via + ')'));
            t.append($('<tr>').addClass('mailstate-' + r.status)
                .append(who)
                .append($('<td class="mailstate-status">').text(r.label))
                .append($('<td class="mailstate-time">').text(r.time + (r.again ? ', ' + r.again : ''))));
        });
        return t;
    }

    function apply(uid) {
        var id = known[uid], m = id && marks[id],
            list = rcmail.message_list,
            row = list && list.rows && list.rows[uid];
        if (!m || !row || !row.obj)
            return;
        var $row = $(row.obj), place = $row.find('span.fromto').first();
        if (!place.length)
            place = $row.find('td.subject').first();
        $row.find('.mailstate-mark').remove();
        place.prepend(badge(m, true));
        $row.addClass('mailstate-row');
    }

    function flush() {
        var rows = pending, ids = [], seen = {};
        timer = null;
        pending = {};
        $.each(rows, function (uid, id) {
            if (!seen[id]) {
                seen[id] = true;
                ids.push(id);
            }
        });
        lookup(ids, function (got) {
            $.extend(marks, got);
            $.each(rows, function (uid) { apply(uid); });
        });
    }

    function panel(m) {
        var p = $('#mailstate-panel');
        if (!p.length)
            p = $('<div id="mailstate-panel" class="mailstate-panel">').insertBefore('#messagebody');
        p.empty()
            .append($('<div class="mailstate-heading">')
                .append($('<span class="mailstate-title">').text(m.heading))
                .append(' ')
                .append(badge(m, false)))
            .append(table(m))
            .show();
    }

    if (!window.rcmail)
        return;

    rcmail.addEventListener('insertrow', function (e) {
        var ids = rcmail.env.mailstate_ids, id = ids && ids[e.uid];
        if (!id) {
            delete known[e.uid];
            return;
        }
        known[e.uid] = pending[e.uid] = id;
        if (marks[id])     // a refreshed list: the last answer at once, then ask again
            setTimeout(function () { apply(e.uid); }, 0);
        if (!timer)
            timer = setTimeout(flush, 0);
    });

    rcmail.addEventListener('init', function () {
        var id = rcmail.env.mailstate_msgid;
        if (id && (rcmail.env.action == 'show' || rcmail.env.action == 'preview'))
            lookup([id], function (got) {
                if (got[id])
                    panel(got[id]);
            });
    });
})();
