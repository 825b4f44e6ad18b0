/* Replay (回看) of one library item: /watch/<item>.
 *
 * The item's VOD playlist lists every segment, so the video element's own
 * controls seek anywhere; the big buttons do the same for fingers and TV
 * remotes. hls.js where Media Source Extensions exist, the browser's own
 * HLS otherwise (Safari, some TV browsers). Deliberately ES5, as player.js,
 * for old TV browsers.
 */
(function () {
  'use strict';

  var TEXT = {
    zh: {
      brand: '课堂', brandSub: '回看', replay: '回看', loading: '正在加载…', play: '播放',
      pause: '暂停', back: '后退 30 秒', forward: '前进 30 秒', fullscreen: '全屏',
      toLive: '看直播', teacher: '主讲：', minutes: ' 分钟', notFound: '没有找到这节课。',
      failed: '播放出错，请刷新页面再试。', lang: 'English'
    },
    en: {
      brand: 'Ketang', brandSub: 'Replay', replay: 'Replay', loading: 'Loading…', play: 'Play',
      pause: 'Pause', back: 'Back 30 s', forward: 'Forward 30 s', fullscreen: 'Full screen',
      toLive: 'Watch live', teacher: 'Teacher: ', minutes: ' min', notFound: 'This lesson was not found.',
      failed: 'Playback failed. Please reload the page.', lang: '中文'
    }
  };

  var video = document.getElementById('video');
  var status = document.getElementById('status');
  var lang = (function () {
    try {
      return window.localStorage.getItem('ketang.lang') === 'en' ? 'en' : 'zh';
    } catch (e) {
      return 'zh';
    }
  })();
  var item = null;
  var failed = false;

  function t(key) {
    return TEXT[lang][key];
  }

  function render() {
    document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
    var nodes = document.querySelectorAll('[data-i18n]');
    for (var i = 0; i < nodes.length; i++) {
      nodes[i].textContent = t(nodes[i].getAttribute('data-i18n'));
    }
    document.getElementById('lang-toggle').textContent = t('lang');
    document.getElementById('play').textContent = video.paused ? t('play') : t('pause');
    if (item) {
      document.getElementById('now-title').textContent = item.title;
      document.title = item.title + ' · ' + t('replay');
      document.getElementById('now-meta').textContent =
        (item.teacher ? t('teacher') + item.teacher + '　' : '') +
        Math.round(item.duration_s / 60) + t('minutes');
    }
    if (failed) {
      status.textContent = item ? t('failed') : t('notFound');
      status.className = 'status';
    }
  }

  function fail() {
    failed = true;
    render();
  }

  function attach(url) {
    if (window.Hls && window.Hls.isSupported()) {
      var hls = new window.Hls({ startLevel: 0, capLevelToPlayerSize: true });
      hls.on(window.Hls.Events.ERROR, function (event, data) {
        if (data && data.fatal) {
          if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) {
            hls.recoverMediaError();
          } else {
            fail();
          }
        }
      });
      hls.loadSource(url);
      hls.attachMedia(video);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = url;
    } else {
      fail();
    }
  }

  function seekBy(seconds) {
    var d = isFinite(video.duration) ? video.duration : Infinity;
    video.currentTime = Math.max(0, Math.min(d - 0.5, video.currentTime + seconds));
  }

  function load() {
    var id = window.location.pathname.split('/')[2] || '';
    var xhr = new XMLHttpRequest();
    xhr.open('GET', '/api/items/' + encodeURIComponent(decodeURIComponent(id)));
    xhr.onload = function () {
      var data = null;
      try {
        data = xhr.status === 200 ? JSON.parse(xhr.responseText) : null;
      } catch (e) {
        data = null;
      }
      if (!data) {
        fail();
        return;
      }
      item = data;
      if (item.thumbnail) {
        video.poster = item.thumbnail;
      }
      render();
      attach(item.playlist);
    };
    xhr.onerror = fail;
    xhr.send();
  }

  document.getElementById('lang-toggle').onclick = function () {
    lang = lang === 'en' ? 'zh' : 'en';
    try {
      window.localStorage.setItem('ketang.lang', lang === 'en' ? 'en' : 'zh-CN');
    } catch (e) {
      // private mode: the choice lasts for this page only
    }
    render();
  };
  document.getElementById('play').onclick = function () {
    if (video.paused) {
      var p = video.play();
      if (p && p.catch) {
        p.catch(function () {});
      }
    } else {
      video.pause();
    }
  };
  document.getElementById('back').onclick = function () { seekBy(-30); };
  document.getElementById('forward').onclick = function () { seekBy(30); };
  document.getElementById('fullscreen').onclick = function () {
    var el = document.getElementById('player');
    var request = el.requestFullscreen || el.webkitRequestFullscreen || el.msRequestFullscreen;
    if (request) {
      request.call(el);
    }
  };
  video.addEventListener('play', render);
  video.addEventListener('pause', render);

  window.ketangReplay = { video: video };
  render();
  load();
})();
