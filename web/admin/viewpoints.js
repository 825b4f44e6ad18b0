/*
 * ketang (课堂) viewing points (收视点) for administrators: list, add, edit,
 * disable and enable, and the TV link of a room as text and as a QR code
 * (drawn by qrcode-generator from npm, /vendor/qrcode.js).
 *
 * A room's token is shown only when it is made (on add, or "new link"): the
 * server keeps its hash and cannot show it again. The card with the link,
 * the code and the QR code prints on its own (the rest of the page has
 * class no-print), to be taped beside the room's TV.
 */
(function () {
  'use strict';

  var A = window.ketangAdmin;
  var $ = A.$;
  var t = A.t;
  var viewpoints = [];
  var channels = [];
  var editing = null; // the viewpoint being edited, or null when adding

  function channelName(id) {
    for (var i = 0; i < channels.length; i++) {
      if (String(channels[i].id) === String(id)) {
        return channels[i].name || t('vpChannelDefault', { id: id });
      }
    }
    return t('vpChannelDefault', { id: id });
  }

  function fillChannels(selected) {
    var select = $('f-channel');
    select.innerHTML = '';
    var seen = false;
    for (var i = 0; i < channels.length; i++) {
      var id = String(channels[i].id);
      var option = A.el('option', null, channelName(id));
      option.value = id;
      seen = seen || id === selected;
      select.appendChild(option);
    }
    if (!seen && selected) {
      var extra = A.el('option', null, channelName(selected));
      extra.value = selected;
      select.appendChild(extra);
    }
    select.value = selected || (channels[0] ? String(channels[0].id) : '1');
  }

  function showCard(viewpoint, token, kioskPath) {
    var url = window.location.protocol + '//' + window.location.host + kioskPath;
    $('card-title').textContent = t('vpCardTitle', { name: viewpoint.name });
    $('card-code').textContent = viewpoint.code;
    $('card-token').textContent = token;
    var link = $('card-url');
    link.textContent = url;
    link.href = url;
    var qr = window.qrcode(0, 'M');
    qr.addData(url);
    qr.make();
    $('card-qr').innerHTML = qr.createSvgTag({ cellSize: 6, margin: 4, scalable: true });
    $('card').className = 'panel kiosk-card';
    $('card').scrollIntoView();
  }

  function render() {
    var rows = $('vp-rows');
    rows.innerHTML = '';
    $('list-loading').className = 'note hidden';
    $('list-empty').className = viewpoints.length ? 'note hidden' : 'note';
    $('vp-table').className = viewpoints.length ? 'data' : 'data hidden';
    for (var i = 0; i < viewpoints.length; i++) {
      rows.appendChild(row(viewpoints[i]));
    }
  }

  function row(v) {
    var tr = A.el('tr', v.disabled ? 'row-disabled' : null);
    tr.setAttribute('data-id', String(v.id));
    var cells = [v.name, v.township, channelName(v.channel), v.code, String(v.seats), v.contact,
      v.phone, v.disabled ? t('vpDisabled') : t('vpActive')];
    for (var i = 0; i < cells.length; i++) {
      tr.appendChild(A.el('td', i === 3 ? 'code' : null, cells[i]));
    }
    var actions = A.el('td', 'actions');
    actions.appendChild(button(t('vpEdit'), 'edit', function () {
      openForm(v);
    }));
    actions.appendChild(button(v.disabled ? t('vpEnable') : t('vpDisable'), 'toggle', function () {
      A.request('PATCH', '/api/viewpoints/' + v.id, { disabled: !v.disabled }, function (status, data) {
        if (status === 200) {
          load();
        } else {
          A.showMessage($('page-message'), A.errorText(status, data));
        }
      });
    }));
    actions.appendChild(button(t('vpNewToken'), 'token', function () {
      if (!window.confirm(t('vpConfirmToken', { name: v.name }))) {
        return;
      }
      A.request('POST', '/api/viewpoints/' + v.id + '/token', {}, function (status, data) {
        if (status === 200 && data) {
          showCard(data.viewpoint, data.token, data.kiosk);
        } else {
          A.showMessage($('page-message'), A.errorText(status, data));
        }
      });
    }));
    tr.appendChild(actions);
    return tr;
  }

  function button(text, action, fn) {
    var b = A.el('button', 'btn btn-small', text);
    b.type = 'button';
    b.setAttribute('data-action', action);
    b.onclick = fn;
    return b;
  }

  function openForm(v) {
    editing = v;
    $('form-title').textContent = v ? v.name : t('vpAdd');
    $('f-name').value = v ? v.name : '';
    $('f-township').value = v ? v.township : '';
    $('f-contact').value = v ? v.contact : '';
    $('f-phone').value = v ? v.phone : '';
    $('f-seats').value = v ? String(v.seats) : '';
    fillChannels(v ? String(v.channel) : null);
    A.showMessage($('form-message'), '');
    $('vp-form').className = 'panel';
    $('f-name').focus();
  }

  function closeForm() {
    editing = null;
    $('vp-form').className = 'panel hidden';
  }

  function submit(event) {
    if (event) {
      event.preventDefault();
    }
    var body = {
      name: $('f-name').value.replace(/^\s+|\s+$/g, ''),
      township: $('f-township').value.replace(/^\s+|\s+$/g, ''),
      contact: $('f-contact').value.replace(/^\s+|\s+$/g, ''),
      phone: $('f-phone').value.replace(/^\s+|\s+$/g, ''),
      channel: $('f-channel').value || '1'
    };
    var seats = parseInt($('f-seats').value, 10);
    if (!isNaN(seats) && seats >= 0) {
      body.seats = seats;
    }
    if (!body.name || !body.township) {
      A.showMessage($('form-message'), t('vpNeedName'));
      return;
    }
    var wasEditing = editing;
    var method = wasEditing ? 'PATCH' : 'POST';
    var path = wasEditing ? '/api/viewpoints/' + wasEditing.id : '/api/viewpoints';
    $('f-save').disabled = true;
    A.request(method, path, body, function (status, data) {
      $('f-save').disabled = false;
      if ((status === 200 || status === 201) && data && data.viewpoint) {
        closeForm();
        A.showMessage($('page-message'), t('vpSaved'), 'ok');
        if (data.token) {
          showCard(data.viewpoint, data.token, data.kiosk);
        }
        load();
      } else {
        A.showMessage($('form-message'), A.errorText(status, data));
      }
    });
  }

  function load() {
    A.request('GET', '/api/viewpoints', null, function (status, data) {
      if (status === 200 && data && data.viewpoints) {
        viewpoints = data.viewpoints;
        render();
      } else {
        A.showMessage($('page-message'), A.errorText(status, data));
      }
    });
  }

  A.start(function () {
    $('add-open').onclick = function () {
      openForm(null);
    };
    $('f-cancel').onclick = closeForm;
    $('vp-form').onsubmit = submit;
    $('card-print').onclick = function () {
      window.print();
    };
    $('card-close').onclick = function () {
      $('card').className = 'panel kiosk-card hidden';
    };
    A.onLanguage(render);
    A.request('GET', '/api/channels', null, function (status, data) {
      channels = status === 200 && data && data.channels ? data.channels : [];
      load();
    });
  });
})();
