/* ketang: a teacher's publish key for live talks (/teach/live.html).
 *
 *   GET  /api/live/key  {"created", "srt_url", "streamid"}: whether there is a key
 *   POST /api/live/key  a new key, shown once (the server keeps only its hash)
 *
 * The page puts together what OBS needs, srt://HOST:PORT?streamid=<talk>/<key>,
 * from the talk's name (typed, or ?talk=) and the key while it is shown;
 * afterwards the key is a placeholder the teacher fills in from where they
 * kept it. Publishing from this page's camera is whip.js's.
 */
(function () {
  'use strict';

  var K = window.ketangTeach;
  var $ = K.$;
  var t = K.t;

  K.addStrings({
    'zh-CN': {
      liveTitle: '直播报告会',
      keyHeading: '推流密钥',
      noKey: '还没有推流密钥。直播前先生成一个。',
      keyMade: '现在的密钥生成于 {when}。密钥只在生成时显示一次；忘了就生成新的。',
      keyOnce: '这是您的新密钥，只显示这一次。请马上填进 OBS，不要告诉别人。',
      makeKey: '生成推流密钥',
      newKey: '生成新密钥',
      confirmRotate: '生成新密钥后，旧密钥立刻失效，正在用旧密钥的直播会断开后连不上。确定吗？',
      rotateYes: '确定，生成新密钥',
      obsHeading: '在 OBS 里怎么填',
      talkLabel: '报告会名称（课表里 live: 后面的名字）',
      obsHelp: 'OBS：设置 → 直播 → 服务选“自定义”，把下面这一行填进“服务器”，“推流码”留空。',
      talkPlaceholder: '报告会名称',
      keyPlaceholder: '您的密钥',
      srtOff: '这台服务器没有开启 SRT 直播接收，请联系管理员。'
    },
    en: {
      liveTitle: 'Live talks',
      keyHeading: 'Publish key',
      noKey: 'You have no publish key yet. Make one before your first live talk.',
      keyMade: 'Your key was made on {when}. It is shown only when it is made; if you lost it, make a new one.',
      keyOnce: 'This is your new key, shown only this once. Put it into OBS now and keep it to yourself.',
      makeKey: 'Make a publish key',
      newKey: 'Make a new key',
      confirmRotate: 'A new key stops the old one at once: a stream using it cannot connect again. Go ahead?',
      rotateYes: 'Yes, make a new key',
      obsHeading: 'What to enter in OBS',
      talkLabel: 'Talk name (the name after live: in the timetable)',
      obsHelp: 'OBS: Settings → Stream → Service "Custom"; put this line into "Server" and leave "Stream Key" empty.',
      talkPlaceholder: 'talk-name',
      keyPlaceholder: 'your-key',
      srtOff: 'This server does not receive SRT live streams; ask the administrator.'
    }
  });

  var state = { created: null, srtUrl: null, key: null };

  function render () {
    $('key-state').textContent = state.created
      ? t('keyMade', { when: K.formatDateTime(state.created) }) : t('noKey');
    $('rotate').textContent = state.created ? t('newKey') : t('makeKey');
    $('key-box').className = state.key ? '' : 'hidden';
    $('key').textContent = state.key || '';
    var talk = $('talk').value.trim() || t('talkPlaceholder');
    $('srt-url').textContent = state.srtUrl
      ? state.srtUrl + '?streamid=' + talk + '/' + (state.key || t('keyPlaceholder'))
      : t('srtOff');
  }

  function rotate () {
    $('rotate-confirm').className = 'hidden';
    $('rotate').disabled = true;
    K.request('POST', '/api/live/key', null, null, function (status, data) {
      $('rotate').disabled = false;
      if (status !== 201 || !data) {
        K.showMessage($('key-message'), K.errorText(status, data));
        return;
      }
      K.showMessage($('key-message'), '');
      state.key = data.key;
      state.created = data.created;
      state.srtUrl = data.srt_url;
      render();
    });
  }

  K.start(function () {
    $('talk').value = K.queryParam('talk') || '';
    $('talk').oninput = render;
    $('rotate').onclick = function () {
      if (state.created) {
        $('rotate-confirm').className = '';
      } else {
        rotate();
      }
    };
    $('rotate-yes').onclick = rotate;
    $('rotate-no').onclick = function () {
      $('rotate-confirm').className = 'hidden';
    };
    K.onLanguage(render);
    window.ketangWhip.start();
    K.request('GET', '/api/live/key', null, null, function (status, data) {
      if (status !== 200 || !data) {
        K.showMessage($('key-message'), K.errorText(status, data));
        return;
      }
      state.created = data.created;
      state.srtUrl = data.srt_url;
      render();
    });
  });
})();
