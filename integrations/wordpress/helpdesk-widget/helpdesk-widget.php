<?php
/**
 * Plugin Name:       Helpdesk Chat Widget
 * Description:       Adds the Helpdesk live chat widget to every page and signs in logged-in customers (WordPress and WooCommerce) with the helpdesk's HMAC identity, so they see their past conversations and orders.
 * Version:           1.0.0
 * Requires at least: 6.3
 * Requires PHP:      7.4
 * Author:            Helpdesk
 * License:           MIT
 * Text Domain:       helpdesk-widget
 *
 * @package HelpdeskWidget
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit; // Only WordPress runs this file.
}

define( 'HELPDESK_WIDGET_OPTION', 'helpdesk_widget_options' );
define( 'HELPDESK_WIDGET_HANDLE', 'helpdesk-widget' );

require_once __DIR__ . '/includes/identity.php';
require_once __DIR__ . '/includes/embed.php';
require_once __DIR__ . '/includes/settings.php';

add_action( 'wp_enqueue_scripts', 'helpdesk_widget_enqueue' );
add_filter( 'script_loader_tag', 'helpdesk_widget_script_tag', 10, 3 );
add_action( 'admin_menu', 'helpdesk_widget_admin_menu' );
add_action( 'admin_init', 'helpdesk_widget_register_settings' );
add_filter( 'plugin_action_links_' . plugin_basename( __FILE__ ), 'helpdesk_widget_action_links' );
