/* ketang: going live from this device's camera (/teach/live.html).
 *
 *   POST   /api/live/whip/<talk>       the SDP offer → 201, the answer, Location
 *   DELETE <Location>                  the end of the talk's stream
 *
 * This is WHIP (WebRTC-HTTP Ingestion Protocol), the same the server takes
 * from OBS; the page proves who it is with the session and its CSRF token
 * instead of a publish key. The teacher picks a camera and a microphone
 * (their names appear once the browser was allowed to use them, which is
 * why "打开摄像头试一试" comes first), sees themselves, and presses 开始直播.
 * The offer is sent once every ICE candidate is in it (the server does no
 * trickle ICE); the answer comes back the same way. The state line says in
 * a few big words what is happening: 连接中, 直播中, 已结束, or what went
 * wrong, in plain words.
 *
 * The browser only lets a page use the camera over HTTPS (or on the same
 * machine, http://127.0.0.1), so a server reached over plain HTTP from
 * another machine shows cameraInsecure instead.
 */
(function () {
  'use strict';

  var K = window.ketangTeach;
  var $ = K.$;
  var t = K.t;

  K.addStrings({
    'zh-CN': {
      whipHeading: '用这台电脑或手机直播',
      whipHelp: '用这台设备的摄像头和麦克风直接直播，不用装别的软件。',
      cameraLabel: '摄像头',
      microphoneLabel: '麦克风',
      checkCamera: '打开摄像头试一试',
      goLive: '开始直播',
      endLive: '结束直播',
      stateIdle: '还没有开始直播',
      stateConnecting: '连接中…',
      stateLive: '直播中',
      stateEnded: '已结束',
      stateError: '没有连上',
      deviceDefault: '默认',
      deviceNumbered: '{kind} {n}',
      needTalk: '请先在上面填写报告会名称。',
      cameraDenied: '浏览器没有允许使用摄像头和麦克风。请点地址栏旁边的图标，选“允许”，然后再试一次。',
      cameraMissing: '没有找到摄像头或麦克风。请插好后再试一次。',
      cameraBusy: '摄像头或麦克风正被别的程序使用。请关掉那个程序后再试一次。',
      cameraFailed: '打不开摄像头或麦克风（{name}）。',
      cameraInsecure: '这个网址不能使用摄像头：需要用 https:// 开头的网址打开本页。请联系管理员。',
      noWebrtc: '这个浏览器不能直播。请换用新版的 Chrome、Edge 或 Firefox。',
      connectionLost: '直播连接断了。请检查网络，然后重新点“开始直播”。',
      connectFailed: '连不上服务器的直播接收。请检查网络，然后再试一次。'
    },
    en: {
      whipHeading: 'Go live from this computer or phone',
      whipHelp: 'Use this device\'s camera and microphone directly; nothing else to install.',
      cameraLabel: 'Camera',
      microphoneLabel: 'Microphone',
      checkCamera: 'Try the camera',
      goLive: 'Start live',
      endLive: 'End live',
      stateIdle: 'Not live yet',
      stateConnecting: 'Connecting…',
      stateLive: 'Live',
      stateEnded: 'Ended',
      stateError: 'Not connected',
      deviceDefault: 'Default',
      deviceNumbered: '{kind} {n}',
      needTalk: 'Please enter the talk name above first.',
      cameraDenied: 'The browser was not allowed to use the camera and microphone. Click the icon beside the address bar, choose "Allow", and try again.',
      cameraMissing: 'No camera or microphone was found. Plug one in and try again.',
      cameraBusy: 'Another program is using the camera or microphone. Close it and try again.',
      cameraFailed: 'The camera or microphone cannot be opened ({name}).',
      cameraInsecure: 'This address cannot use the camera: the page must be opened with an https:// address. Please ask the administrator.',
      noWebrtc: 'This browser cannot go live. Please use a recent Chrome, Edge or Firefox.',
      connectionLost: 'The live connection broke. Check the network, then press "Start live" again.',
      connectFailed: 'The server\'s live input cannot be reached. Check the network and try again.'
    }
  });

  var GATHER_TIMEOUT_MS = 5000;
  var state = 'idle';
  var stream = null;
  var pc = null;
  var resource = null; /* the Location to DELETE */

  function setState(s, message) {
    state = s;
    var names = { idle: 'stateIdle', connecting: 'stateConnecting', live: 'stateLive',
      ended: 'stateEnded', error: 'stateError' };
    $('whip-state').textContent = t(names[s]);
    $('whip-state').setAttribute('data-state', s);
    var on = s === 'connecting' || s === 'live';
    $('go-live').className = on ? 'btn btn-primary btn-wide hidden' : 'btn btn-primary btn-wide';
    $('end-live').className = on ? 'btn btn-danger btn-wide' : 'btn btn-danger btn-wide hidden';
    $('camera').disabled = on;
    $('microphone').disabled = on;
    if (message !== undefined) {
      K.showMessage($('whip-message'), message);
    }
  }

  function cameraError(err) {
    var name = err && err.name;
    if (name === 'NotAllowedError' || name === 'SecurityError') {
      return t('cameraDenied');
    }
    if (name === 'NotFoundError' || name === 'OverconstrainedError') {
      return t('cameraMissing');
    }
    if (name === 'NotReadableError') {
      return t('cameraBusy');
    }
    return t('cameraFailed', { name: name || String(err) });
  }

  function fillDevices(devices) {
    var kinds = [['videoinput', 'camera', 'cameraLabel'], ['audioinput', 'microphone', 'microphoneLabel']];
    for (var k = 0; k < kinds.length; k++) {
      var select = $(kinds[k][1]);
      var chosen = select.value;
      select.textContent = '';
      var n = 0;
      for (var i = 0; i < devices.length; i++) {
        if (devices[i].kind !== kinds[k][0]) {
          continue;
        }
        n += 1;
        var option = document.createElement('option');
        option.value = devices[i].deviceId;
        option.textContent = devices[i].label || t('deviceNumbered', { kind: t(kinds[k][2]), n: n });
        select.appendChild(option);
      }
      if (chosen) {
        select.value = chosen;
      }
    }
  }

  function currentDevice(tracks) {
    return tracks.length && tracks[0].getSettings ? tracks[0].getSettings().deviceId : null;
  }

  /* Open the chosen camera and microphone (or the defaults) and show them. */
  function openCamera(done) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      setState('error', window.isSecureContext === false ? t('cameraInsecure') : t('noWebrtc'));
      return;
    }
    var video = $('camera').value;
    var audio = $('microphone').value;
    if (stream) {
      stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
    }
    navigator.mediaDevices.getUserMedia({
      video: video ? { deviceId: { exact: video } } : { width: { ideal: 1280 }, height: { ideal: 720 } },
      audio: audio ? { deviceId: { exact: audio } } : true
    }).then(function (s) {
      stream = s;
      $('preview').srcObject = s;
      K.showMessage($('whip-message'), '');
      return navigator.mediaDevices.enumerateDevices().then(function (devices) {
        fillDevices(devices);
        $('camera').value = currentDevice(s.getVideoTracks()) || $('camera').value;
        $('microphone').value = currentDevice(s.getAudioTracks()) || $('microphone').value;
      });
    }).then(function () {
      if (done) {
        done();
      }
    }, function (err) {
      setState('error', cameraError(err));
    });
  }

  function waitForCandidates(connection) {
    return new Promise(function (resolve) {
      if (connection.iceGatheringState === 'complete') {
        resolve();
        return;
      }
      var timer = setTimeout(resolve, GATHER_TIMEOUT_MS);
      connection.addEventListener('icegatheringstatechange', function () {
        if (connection.iceGatheringState === 'complete') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  function closeConnection() {
    if (pc) {
      pc.onconnectionstatechange = null;
      pc.close();
      pc = null;
    }
  }

  function publish() {
    var talk = $('talk').value.trim();
    if (!talk) {
      setState('error', t('needTalk'));
      return;
    }
    if (typeof window.RTCPeerConnection !== 'function') {
      setState('error', t('noWebrtc'));
      return;
    }
    setState('connecting', '');
    var connection = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    pc = connection;
    stream.getVideoTracks().forEach(function (track) {
      connection.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    });
    stream.getAudioTracks().forEach(function (track) {
      connection.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    });
    connection.onconnectionstatechange = function () {
      if (pc !== connection) {
        return;
      }
      if (connection.connectionState === 'connected') {
        setState('live', '');
      } else if (connection.connectionState === 'failed' ||
                 (connection.connectionState === 'disconnected' && state === 'live')) {
        end(t('connectionLost'));
      }
    };
    connection.createOffer().then(function (offer) {
      return connection.setLocalDescription(offer);
    }).then(function () {
      return waitForCandidates(connection);
    }).then(function () {
      if (pc !== connection) {
        return;
      }
      var body = new Blob([connection.localDescription.sdp], { type: 'application/sdp' });
      K.request('POST', '/api/live/whip/' + encodeURIComponent(talk), body,
        { contentType: 'application/sdp', timeout: 30000 }, function (status, data, xhr) {
          if (pc !== connection) {
            return;
          }
          if (status !== 201) {
            closeConnection();
            setState('error', status === 0 ? t('connectFailed') : K.errorText(status, data));
            return;
          }
          resource = xhr.getResponseHeader('Location');
          connection.setRemoteDescription({ type: 'answer', sdp: xhr.responseText })
            .catch(function (err) {
              end(t('connectFailed') + ' (' + (err && err.message) + ')');
            });
        });
    }).catch(function (err) {
      closeConnection();
      setState('error', t('connectFailed') + ' (' + (err && err.message) + ')');
    });
  }

  /* Stop sending and tell the server (DELETE); @message says why, if it
   * was not the teacher's choice. */
  function end(message) {
    closeConnection();
    if (resource) {
      K.request('DELETE', resource, null, { keep401: true }, function () {});
      resource = null;
    }
    setState(message ? 'error' : 'ended', message || '');
  }

  function start() {
    setState('idle');
    K.onLanguage(function () {
      setState(state);
    });
    $('check-camera').onclick = function () {
      openCamera();
    };
    $('camera').onchange = function () {
      openCamera();
    };
    $('microphone').onchange = function () {
      openCamera();
    };
    $('go-live').onclick = function () {
      if (!$('talk').value.trim()) {
        setState('error', t('needTalk'));
        return;
      }
      if (stream) {
        publish();
      } else {
        openCamera(publish);
      }
    };
    $('end-live').onclick = function () {
      end();
    };
    window.addEventListener('pagehide', function () {
      /* The page goes away: closing the connection lets the server see
       * the stream end (ICE closes, or no media for a few seconds). */
      closeConnection();
    });
  }

  window.ketangWhip = { start: start };
})();
