/* Chat events for the shop page's dataLayer (Google Tag Manager / Analytics), sent only when the
 * shop turned them on (chat settings, `data_layer`). The frame cannot touch the shop page: it posts
 * each event to the loader (widget.js), which pushes it into the page's window.dataLayer. Only the
 * event name, the conversation's public id and the rating travel: never a name, email or text. */
window.HelpdeskFrameAnalytics = function (cfg, tellParent) {
  "use strict";
  var started = {};

  function push(event, fields) {
    if (!cfg.data_layer) return;
    var data = { event: event };
    for (var key in fields || {}) data[key] = fields[key];
    tellParent({ type: "helpdesk:datalayer", data: data });
  }

  return {
    opened: function () { push("helpdesk_chat_opened"); },
    // The shopper's first message of a new conversation (once per conversation, whatever retries).
    started: function (conversationId) {
      if (!conversationId || started[conversationId]) return;
      started[conversationId] = true;
      push("helpdesk_chat_started", { conversation_id: conversationId });
    },
    rated: function (conversationId, rating) {
      push("helpdesk_chat_rated", { conversation_id: conversationId, rating: rating });
    }
  };
};
